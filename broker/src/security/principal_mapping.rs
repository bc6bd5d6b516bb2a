//! `ssl.principal.mapping.rules`: the principal name a client certificate's subject DN
//! (RFC 2253, as Java writes it) stands for, with Kafka's syntax: a comma-separated list of
//! `RULE:pattern/replacement/` (optionally ending in `L` or `U` to lower- or upper-case the
//! result) and `DEFAULT` (the DN itself). The first rule whose pattern matches the whole DN
//! applies; a DN no rule matches is refused, as Kafka refuses it. `/` inside a pattern or
//! replacement is written `\/`.

use regex::Regex;

#[derive(Debug, Clone)]
enum Rule {
    Default,
    Replace {
        /// The pattern anchored at both ends (Kafka requires a whole-DN match).
        whole: Regex,
        pattern: Regex,
        replacement: String,
        case: Case,
    },
}

#[derive(Debug, Clone, Copy)]
enum Case {
    Keep,
    Lower,
    Upper,
}

/// The rules of a listener; no rules behave as `DEFAULT`.
#[derive(Debug, Clone, Default)]
pub struct PrincipalMapper {
    rules: Vec<Rule>,
}

impl PrincipalMapper {
    /// Parses Kafka's rule list; the error says which rule is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut rules = Vec::new();
        let mut rest = text.trim();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("DEFAULT") {
                rules.push(Rule::Default);
                rest = after;
            } else if let Some(after) = rest.strip_prefix("RULE:") {
                let (pattern, after) = until_slash(after)
                    .ok_or_else(|| format!("{rest:?}: a RULE needs pattern/replacement/"))?;
                let (replacement, after) = until_slash(after)
                    .ok_or_else(|| format!("{rest:?}: a RULE needs pattern/replacement/"))?;
                let (case, after) = match after.chars().next() {
                    Some('L') => (Case::Lower, &after[1..]),
                    Some('U') => (Case::Upper, &after[1..]),
                    _ => (Case::Keep, after),
                };
                let bad = |e: regex::Error| format!("RULE pattern {pattern:?}: {e}");
                rules.push(Rule::Replace {
                    whole: Regex::new(&format!("^(?:{pattern})$")).map_err(bad)?,
                    pattern: Regex::new(&pattern).map_err(bad)?,
                    replacement: java_replacement(&replacement),
                    case,
                });
                rest = after;
            } else {
                return Err(format!(
                    "{rest:?}: expected RULE:pattern/replacement/[LU] or DEFAULT"
                ));
            }
            rest = rest.trim_start();
            match rest.strip_prefix(',') {
                Some(after) => rest = after.trim_start(),
                None if rest.is_empty() => {}
                None => return Err(format!("{rest:?}: rules are separated by commas")),
            }
        }
        Ok(PrincipalMapper { rules })
    }

    /// The principal name for `dn` (without the `User:` prefix).
    pub fn map(&self, dn: &str) -> Result<String, String> {
        if self.rules.is_empty() {
            return Ok(dn.to_string());
        }
        for rule in &self.rules {
            match rule {
                Rule::Default => return Ok(dn.to_string()),
                Rule::Replace {
                    whole,
                    pattern,
                    replacement,
                    case,
                } if whole.is_match(dn) => {
                    let name = pattern.replace_all(dn, replacement.as_str()).into_owned();
                    return Ok(match case {
                        Case::Keep => name,
                        Case::Lower => name.to_lowercase(),
                        Case::Upper => name.to_uppercase(),
                    });
                }
                Rule::Replace { .. } => {}
            }
        }
        Err(format!(
            "no ssl.principal.mapping.rules rule applies to the certificate subject {dn:?}"
        ))
    }
}

/// Text up to the first unescaped `/` (with `\/` unescaped), and what follows that slash.
fn until_slash(text: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if text[i + 1..].starts_with('/') => {
                out.push('/');
                chars.next();
            }
            '/' => return Some((out, &text[i + 1..])),
            c => out.push(c),
        }
    }
    None
}

/// Java's `$1` group references as the regex crate's `${1}`, so a letter after the number
/// is not read as part of a group name.
fn java_replacement(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            let mut n = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                n.push(*d);
                chars.next();
            }
            out.push_str(&format!("${{{n}}}"));
        } else if c == '$' {
            out.push_str("$$");
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_rule_syntax() {
        let m = PrincipalMapper::parse(
            r"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/, RULE:^CN=(.*?),OU=(.*?),O=.*$/$1@$2/L,
              RULE:^O=a\/b,CN=(.*)$/$1x/U, DEFAULT",
        )
        .unwrap();
        assert_eq!(
            m.map("CN=kafka-svc,OU=ServiceUsers,O=Acme").unwrap(),
            "kafka-svc"
        );
        assert_eq!(m.map("CN=Alice,OU=Sales,O=Acme").unwrap(), "alice@sales");
        assert_eq!(m.map("O=a/b,CN=bob").unwrap(), "BOBX");
        assert_eq!(m.map("CN=other").unwrap(), "CN=other");
        let strict = PrincipalMapper::parse("RULE:^CN=(.*?),O=Acme$/$1/").unwrap();
        assert_eq!(strict.map("CN=carol,O=Acme").unwrap(), "carol");
        let e = strict.map("CN=mallory,O=Evil").unwrap_err();
        assert!(e.contains("no ssl.principal.mapping.rules rule"), "{e}");
        assert_eq!(PrincipalMapper::default().map("CN=x").unwrap(), "CN=x");
        for bad in ["RULE:^CN=(.*)$", "RULE:(/x/", "NOPE", "DEFAULT DEFAULT"] {
            assert!(PrincipalMapper::parse(bad).is_err(), "{bad}");
        }
    }
}
