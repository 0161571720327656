//! Tables that become cards on a phone: every data cell of a table with a header row of three
//! or more columns gets its column's header as `data-label`, and the table `data-cards`; the
//! stylesheet then shows each row as a card of labelled values under 40em, with no script.
//! The page keeps its real table (and its semantics) everywhere else.

/// `html` with the cells of its wide tables labelled by their column headers.
pub fn label_tables(html: &str) -> String {
    let mut out = String::with_capacity(html.len() + html.len() / 8);
    let mut rest = html;
    while let Some(start) = rest.find("<table") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find("</table>") else {
            break;
        };
        let end = start + len + "</table>".len();
        out.push_str(&label_table(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// One `<table>…</table>` (no nested tables in our pages).
fn label_table(table: &str) -> String {
    let headers = match (table.find("<thead"), table.find("</thead>")) {
        (Some(a), Some(b)) if a < b => header_texts(&table[a..b]),
        _ => Vec::new(),
    };
    if headers.len() < 3 || table[6..].starts_with(|c: char| c != ' ' && c != '>') {
        return table.to_owned();
    }
    let Some(body_at) = table.find("</thead>") else {
        return table.to_owned();
    };
    let mut out = String::with_capacity(table.len() + 64);
    out.push_str("<table data-cards");
    out.push_str(&table["<table".len()..body_at]);
    let mut rest = &table[body_at..];
    let mut col = 0usize;
    loop {
        let next = [rest.find("<tr"), rest.find("<td"), rest.find("<th")]
            .into_iter()
            .flatten()
            .min();
        let Some(i) = next else { break };
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let tag_end = rest.find('>').map_or(rest.len(), |e| e + 1);
        let tag = &rest[..tag_end];
        let is_cell =
            |name: &str| tag.starts_with(name) && tag[name.len()..].starts_with([' ', '>']);
        if is_cell("<tr") {
            col = 0;
            out.push_str(tag);
        } else if is_cell("<td") || is_cell("<th") {
            let span = attr(tag, "colspan")
                .and_then(|s| s.parse().ok())
                .unwrap_or(1usize);
            match headers.get(col) {
                Some(h) if is_cell("<td") && !tag.contains(" data-label=") && !h.is_empty() => {
                    out.push_str("<td data-label=\"");
                    out.push_str(h);
                    out.push('"');
                    out.push_str(&tag[3..]);
                }
                _ => out.push_str(tag),
            }
            col += span.max(1);
        } else {
            out.push_str(tag);
        }
        rest = &rest[tag_end..];
    }
    out.push_str(rest);
    out
}

/// The text of each header cell of the first row of `thead`, still HTML-escaped as it was.
fn header_texts(thead: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = thead;
    while let Some(i) = rest.find("<th") {
        let after = &rest[i..];
        if !after[3..].starts_with([' ', '>']) {
            rest = &after[3..];
            continue;
        }
        let Some(open_end) = after.find('>') else {
            break;
        };
        let Some(close) = after.find("</th>") else {
            break;
        };
        let span = attr(&after[..open_end], "colspan")
            .and_then(|s| s.parse().ok())
            .unwrap_or(1usize);
        let text = strip_tags(&after[open_end + 1..close]);
        for _ in 0..span.max(1) {
            out.push(text.clone());
        }
        rest = &after[close..];
        if rest
            .find("<tr")
            .is_some_and(|t| rest.find("<th").is_none_or(|h| t < h))
        {
            break; // only the first header row names the columns
        }
    }
    out
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let pat = format!(" {name}=\"");
    let i = tag.find(&pat)? + pat.len();
    let end = tag[i..].find('"')?;
    Some(&tag[i..i + end])
}

/// Text without tags, whitespace collapsed; quotes stay escaped (`&quot;`) for the attribute.
fn strip_tags(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_tables_get_labels_and_narrow_ones_stay() {
        let page = r#"<p>x</p><table class="t"><thead><tr><th scope="col">地区</th><th scope="col">面積 <abbr>ha</abbr></th><th colspan="2">牛</th></tr></thead><tbody><tr><th scope="row">黒磯</th><td class="num">1.5</td><td>3</td><td data-label="own">4</td></tr></tbody></table><table><tbody><tr><th>a</th><td>b</td></tr></tbody></table>"#;
        let got = label_tables(page);
        assert_eq!(
            got,
            r#"<p>x</p><table data-cards class="t"><thead><tr><th scope="col">地区</th><th scope="col">面積 <abbr>ha</abbr></th><th colspan="2">牛</th></tr></thead><tbody><tr><th scope="row">黒磯</th><td data-label="面積 ha" class="num">1.5</td><td data-label="牛">3</td><td data-label="own">4</td></tr></tbody></table><table><tbody><tr><th>a</th><td>b</td></tr></tbody></table>"#
        );
        assert_eq!(label_tables("<p>no table</p>"), "<p>no table</p>");
        assert_eq!(label_tables("<table><thead>"), "<table><thead>");
    }
}
