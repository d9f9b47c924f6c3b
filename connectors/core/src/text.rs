//! Rich text as providers send it (Pylon's and Zendesk's HTML bodies,
//! Confluence's storage format) turned into the plain text a search
//! indexes: tags dropped, block ends and line breaks kept as new lines,
//! entities decoded, runs of spaces folded. Not a renderer: what a tag
//! means beyond its line breaks is left out, and the text of `script` and
//! `style` with it.

/// Tags after which the text goes on on a new line.
const BLOCKS: &[&str] =
    &["p", "div", "br", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "hr"];

/// The plain text of an HTML fragment.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut skipping: Option<String> = None;
    while let Some(open) = rest.find('<') {
        if skipping.is_none() {
            push_text(&mut out, &rest[..open]);
        }
        let Some(close) = rest[open..].find('>') else {
            // A `<` that opens no tag is text.
            if skipping.is_none() {
                push_text(&mut out, &rest[open..]);
            }
            rest = "";
            break;
        };
        let tag = &rest[open + 1..open + close];
        rest = &rest[open + close + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        if let Some(skipped) = &skipping {
            if closing && name == *skipped {
                skipping = None;
            }
            continue;
        }
        if !closing && matches!(name.as_str(), "script" | "style") && !tag.ends_with('/') {
            skipping = Some(name);
            continue;
        }
        if BLOCKS.contains(&name.as_str()) && !out.ends_with('\n') && !out.is_empty() {
            out.push('\n');
        }
    }
    if skipping.is_none() {
        push_text(&mut out, rest);
    }
    out.lines().map(str::trim).filter(|line| !line.is_empty()).collect::<Vec<_>>().join("\n")
}

/// Text between tags, its entities decoded and its white space folded.
fn push_text(out: &mut String, text: &str) {
    let decoded = decode_entities(text);
    for (i, word) in decoded.split_whitespace().enumerate() {
        let starts_with_space = decoded.starts_with(char::is_whitespace);
        if (i > 0 || starts_with_space) && !out.ends_with(['\n', ' ']) && !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    if decoded.ends_with(char::is_whitespace) && !decoded.trim().is_empty() && !out.ends_with('\n') {
        out.push(' ');
    }
}

fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let decoded = after.find(';').filter(|end| *end <= 10).and_then(|end| {
            let name = &after[..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" | "#39" => Some('\''),
                "nbsp" => Some(' '),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                    .and_then(char::from_u32),
            }?;
            Some((c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_go_blocks_break_lines_and_entities_decode() {
        assert_eq!(
            html_to_text(
                "<p>Hi team,</p><p>Our dashboard shows <strong>stale inventory</strong>.</p><p>Thanks, Priya</p>"
            ),
            "Hi team,\nOur dashboard shows stale inventory.\nThanks, Priya"
        );
        assert_eq!(
            html_to_text("a&nbsp;&amp;&#32;b &lt;c&gt; &#x41;&#66; &unknown; 5 & 6"),
            "a & b <c> AB &unknown; 5 & 6"
        );
        assert_eq!(html_to_text("line one<br/>line two<br>three"), "line one\nline two\nthree");
        assert_eq!(html_to_text("<style>p { color: red }</style><p>kept</p><script>alert(1)</script>"), "kept");
        assert_eq!(html_to_text("<ul><li>one</li><li>two</li></ul>"), "one\ntwo");
        assert_eq!(html_to_text("SKU <code>RTM-00417</code> has a space"), "SKU RTM-00417 has a space");
        assert_eq!(html_to_text("1 < 2 and no tag"), "1 < 2 and no tag");
        assert_eq!(html_to_text("Привет, <b>мир</b>"), "Привет, мир");
        assert_eq!(html_to_text(""), "");
    }
}
