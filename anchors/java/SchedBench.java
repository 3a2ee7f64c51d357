// Java anchor for `tickless bench sched`: java.util.concurrent's
// ScheduledThreadPoolExecutor measured the way its users run it (defaults,
// plus setRemoveOnCancelPolicy(true) where cancelled tasks must not stay
// queued), with JIT warm-up rounds before the measured ones.
//
// Run as a single-file program (JDK 11+):
//   java anchors/java/SchedBench.java churn <pairs> <pending>
//   java anchors/java/SchedBench.java bytes <tasks>
//   java anchors/java/SchedBench.java periodic <tasks> <period_ms> <threads> <secs> [burst|staggered]
//   java anchors/java/SchedBench.java oneshot <tasks> <within_ms> <threads>
// Results go to stdout, one "key value" per line; progress to stderr.
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

public class SchedBench {
    static final Runnable NOOP = () -> {}; // non-capturing: one shared instance

    static void out(String key, double value) {
        System.out.println(key + " " + value);
    }

    static long cpuNanos() {
        var os = ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
            return sun.getProcessCpuTime();
        }
        return -1;
    }

    static long percentile(long[] sorted, int count, double q) {
        if (count == 0) return 0;
        int rank = (int) Math.ceil(q * count);
        return sorted[Math.min(count - 1, Math.max(0, rank - 1))];
    }

    /** schedule(1 h) + cancel, with `pending` other one-hour tasks queued. */
    static double churn(ScheduledThreadPoolExecutor ex, int pairs) {
        long start = System.nanoTime();
        for (int i = 0; i < pairs; i++) {
            ScheduledFuture<?> f = ex.schedule(NOOP, 1, TimeUnit.HOURS);
            f.cancel(false);
        }
        return (double) (System.nanoTime() - start) / pairs;
    }

    static void churnScenario(int pairs, int pending) {
        for (boolean remove : new boolean[] {true, false}) {
            var ex = new ScheduledThreadPoolExecutor(1);
            ex.setRemoveOnCancelPolicy(remove);
            for (int i = 0; i < pending; i++) ex.schedule(NOOP, 1, TimeUnit.HOURS);
            for (int w = 0; w < 5; w++) churn(ex, Math.max(1, pairs / 5)); // warm-up
            if (!remove) { // the warm-up's cancelled tasks would slow the measured round
                ex.shutdownNow();
                ex = new ScheduledThreadPoolExecutor(1);
                for (int i = 0; i < pending; i++) ex.schedule(NOOP, 1, TimeUnit.HOURS);
            }
            double ns = churn(ex, pairs);
            out(remove ? "churn_ns_remove_on_cancel" : "churn_ns_default", ns);
            if (!remove) out("churn_retained_after_cancel", ex.getQueue().size() - pending);
            ex.shutdownNow();
        }
    }

    static long usedHeap() {
        var rt = Runtime.getRuntime();
        for (int i = 0; i < 3; i++) System.gc();
        return rt.totalMemory() - rt.freeMemory();
    }

    static void bytesScenario(int tasks) {
        var ex = new ScheduledThreadPoolExecutor(1);
        // Warm-up: the classes and the queue's code paths are loaded.
        for (int i = 0; i < 10_000; i++) ex.schedule(NOOP, 1, TimeUnit.HOURS).cancel(false);
        ex.getQueue().clear();
        long before = usedHeap();
        for (int i = 0; i < tasks; i++) ex.schedule(NOOP, 1, TimeUnit.HOURS);
        long after = usedHeap();
        out("bytes_per_task", (double) (after - before) / tasks);
        out("queued", ex.getQueue().size());
        ex.shutdownNow();
    }

    /** Each of `tasks` runs every `period` at a fixed rate; lateness = start - (first + k*period). */
    static void periodicRound(int tasks, long periodMs, int threads, double secs, boolean staggered, boolean measured) {
        var ex = new ScheduledThreadPoolExecutor(threads);
        long period = TimeUnit.MILLISECONDS.toNanos(periodMs);
        int cap = (int) (tasks * (secs * 1000 / periodMs + 4));
        long[] late = new long[cap];
        AtomicInteger n = new AtomicInteger();
        List<ScheduledFuture<?>> futures = new ArrayList<>();
        long cpu0 = cpuNanos();
        // First deadlines fixed up front (as in the Rust side): all at start,
        // or spread evenly over one period from there.
        long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(200);
        for (int t = 0; t < tasks; t++) {
            final long first = staggered ? start + period * t / tasks : start;
            final long[] k = {0};
            futures.add(ex.scheduleAtFixedRate(() -> {
                long now = System.nanoTime();
                long due = first + k[0]++ * period;
                int i = n.getAndIncrement();
                if (i < late.length) late[i] = now - due;
            }, first - System.nanoTime(), period, TimeUnit.NANOSECONDS));
        }
        try {
            Thread.sleep((long) (secs * 1000));
        } catch (InterruptedException e) {
            throw new RuntimeException(e);
        }
        for (var f : futures) f.cancel(false);
        long cpu = cpuNanos() - cpu0;
        ex.shutdown();
        int count = Math.min(n.get(), late.length);
        if (!measured) return;
        long[] sorted = Arrays.copyOf(late, count);
        Arrays.sort(sorted);
        out("runs", count);
        out("late_p50_ns", percentile(sorted, count, 0.5));
        out("late_p99_ns", percentile(sorted, count, 0.99));
        out("late_max_ns", count == 0 ? 0 : sorted[count - 1]);
        out("cpu_ns_per_run", count == 0 ? 0 : (double) cpu / count);
    }

    /** `tasks` one-shot tasks due evenly within `withinMs`, on `threads` workers. */
    static void oneshotRound(int tasks, long withinMs, int threads, boolean measured) throws Exception {
        var ex = new ScheduledThreadPoolExecutor(threads);
        long within = TimeUnit.MILLISECONDS.toNanos(withinMs);
        long[] late = new long[tasks];
        AtomicIntegerArray runs = new AtomicIntegerArray(tasks);
        AtomicInteger done = new AtomicInteger();
        long t0 = System.nanoTime();
        for (int i = 0; i < tasks; i++) {
            final int id = i;
            final long due = t0 + within * i / tasks;
            // The executor takes its own now() after t0, so `due` is never later than its trigger time.
            ex.schedule(() -> {
                late[id] = System.nanoTime() - due;
                runs.incrementAndGet(id);
                done.incrementAndGet();
            }, due - System.nanoTime(), TimeUnit.NANOSECONDS);
        }
        long submitted = System.nanoTime() - t0;
        ex.shutdown(); // runs the delayed tasks (default policy), then stops
        ex.awaitTermination(1, TimeUnit.HOURS);
        long took = System.nanoTime() - t0;
        if (!measured) return;
        int wrong = 0;
        int early = 0;
        for (int i = 0; i < tasks; i++) {
            if (runs.get(i) != 1) wrong++;
            if (late[i] < 0) early++;
        }
        long[] sorted = late.clone();
        Arrays.sort(sorted);
        out("ran", done.get());
        out("not_exactly_once", wrong);
        out("early", early);
        out("throughput_per_s", tasks / (took / 1e9));
        out("submit_ms", submitted / 1e6);
        out("late_p50_ns", percentile(sorted, tasks, 0.5));
        out("late_p99_ns", percentile(sorted, tasks, 0.99));
    }

    public static void main(String[] a) throws Exception {
        out("java_version", Runtime.version().feature());
        switch (a[0]) {
            case "churn" -> churnScenario(Integer.parseInt(a[1]), Integer.parseInt(a[2]));
            case "bytes" -> bytesScenario(Integer.parseInt(a[1]));
            case "periodic" -> {
                int tasks = Integer.parseInt(a[1]);
                long period = Long.parseLong(a[2]);
                int threads = Integer.parseInt(a[3]);
                double secs = Double.parseDouble(a[4]);
                boolean staggered = a.length > 5 && a[5].equals("staggered");
                periodicRound(tasks, period, threads, Math.min(2, secs), staggered, false); // JIT warm-up
                periodicRound(tasks, period, threads, secs, staggered, true);
            }
            case "oneshot" -> {
                int tasks = Integer.parseInt(a[1]);
                long within = Long.parseLong(a[2]);
                int threads = Integer.parseInt(a[3]);
                oneshotRound(Math.max(1, tasks / 10), within, threads, false); // JIT warm-up
                oneshotRound(tasks, within, threads, true);
            }
            default -> throw new IllegalArgumentException("unknown scenario " + a[0]);
        }
    }
}
