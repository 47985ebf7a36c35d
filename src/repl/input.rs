//! When is an input finished? An unclosed bracket, brace, template string (`` ` ``), block
//! comment or a `"…\` line continuation means the statement goes on on the next line; anything
//! else (including input the parser will reject, such as a stray `)`) is handed to the
//! compiler, which reports it with a caret.

/// Whether `text` is a complete input, or needs more lines.
pub(crate) fn is_complete(text: &str) -> bool {
    // Open delimiters, innermost last: `(`, `[`, `{`, `` ` `` (a template string) and `$` (a
    // `${…}` interpolation inside one, closed by `}`).
    let mut open: Vec<char> = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if open.last() == Some(&'`') {
            match c {
                // A doubled back-tick is a literal one.
                '`' if chars.peek() == Some(&'`') => {
                    chars.next();
                }
                '`' => {
                    open.pop();
                }
                '$' if chars.peek() == Some(&'{') => {
                    chars.next();
                    open.push('$');
                }
                _ => {}
            }
            continue;
        }
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                // Rhai's block comments nest.
                let mut depth = 1usize;
                while depth > 0 {
                    match chars.next() {
                        None => return false,
                        Some('/') if chars.peek() == Some(&'*') => {
                            chars.next();
                            depth += 1;
                        }
                        Some('*') if chars.peek() == Some(&'/') => {
                            chars.next();
                            depth -= 1;
                        }
                        Some(_) => {}
                    }
                }
            }
            '"' => loop {
                match chars.next() {
                    // A backslash at the very end: the string continues on the next line.
                    Some('\\') => {
                        if chars.next().is_none() {
                            return false;
                        }
                    }
                    Some('"') => break,
                    // Unterminated on its line: the compiler says so.
                    Some('\n') | None => return true,
                    Some(_) => {}
                }
            },
            '\'' => loop {
                match chars.next() {
                    Some('\\') => {
                        chars.next();
                    }
                    Some('\'') | Some('\n') | None => break,
                    Some(_) => {}
                }
            },
            '(' | '[' | '{' | '`' => open.push(c),
            ')' | ']' | '}' => {
                let matches = matches!(
                    (open.last(), c),
                    (Some('('), ')') | (Some('['), ']') | (Some('{' | '$'), '}')
                );
                if !matches {
                    return true;
                }
                open.pop();
            }
            _ => {}
        }
    }
    open.is_empty()
}

#[cfg(test)]
mod tests {
    use super::is_complete;

    #[test]
    fn open_brackets_braces_and_maps_wait_for_more() {
        assert!(is_complete("let x = open_orders().len()"));
        assert!(!is_complete("fn double(x) {"));
        assert!(!is_complete("fn double(x) {\n  x * 2"));
        assert!(is_complete("fn double(x) {\n  x * 2\n}"));
        assert!(!is_complete("let ids = ["));
        assert!(!is_complete("cancel_market(#{ market: \"0xaa\","));
        assert!(!is_complete("open_orders().filter(|o| {"));
    }

    #[test]
    fn brackets_in_strings_chars_and_comments_do_not_count() {
        assert!(is_complete(r#"print("{ [ (")"#));
        assert!(is_complete(r#"let s = "a \" { still in the string";"#));
        assert!(is_complete("let c = '{';"));
        assert!(is_complete("let c = '\\'';"));
        assert!(is_complete("let x = 1; // {"));
        assert!(is_complete("/* { */ let x = 1;"));
        assert!(!is_complete("/* a comment { that goes on"));
        assert!(!is_complete("/* nested /* */ still open"));
        assert!(is_complete("/* nested /* */ closed */ 1"));
    }

    #[test]
    fn template_strings_and_line_continuations_span_lines() {
        assert!(!is_complete("let s = `first line"));
        assert!(is_complete("let s = `first\nsecond`"));
        assert!(!is_complete("let s = `total: ${ orders.len() "));
        assert!(is_complete(
            "let s = `total: ${ #{a: 1}.a } and ``quoted`` { `"
        ));
        assert!(!is_complete("let s = \"first \\"));
        assert!(is_complete("let s = \"first \\\nsecond\""));
    }

    #[test]
    fn input_the_parser_will_reject_is_handed_over_not_held_back() {
        assert!(is_complete("let x = 1)"));
        assert!(is_complete("foo(]"));
        assert!(is_complete("let s = \"unterminated"));
        assert!(is_complete(""));
    }
}
