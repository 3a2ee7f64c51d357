//! HTML escaping, for text placed in an element or a quoted attribute: the
//! debug page and the `tickless` command's report both build HTML by hand.
//!
//! O(n) in the input; allocates the result.

/// Escapes `&`, `<`, `>` and `"`, so `s` reads as text inside an element
/// or a double-quoted attribute value (not inside `<script>` or `<style>`).
///
/// ```
/// assert_eq!(
///     tickless_debug::html::escape("<a href=\"x\">&"),
///     "&lt;a href=&quot;x&quot;&gt;&amp;"
/// );
/// ```
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            escape("<a href=\"x\">&"),
            "&lt;a href=&quot;x&quot;&gt;&amp;"
        );
    }
}
