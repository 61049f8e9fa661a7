//! Renders the nats-server configuration (2.9 syntax) from the state.

use std::{fmt::Write, path::Path};

use super::{
    AuthError,
    roles::Allow,
    state::{State, User},
};

/// The nats-server configuration for `state`.
///
/// Every string is double-quoted: unquoted, `$JS.API.INFO` would be read as a reference to a
/// variable named `JS.API.INFO`.
pub(super) fn render(state: &State) -> Result<String, AuthError> {
    let mut out = String::new();
    let server = &state.server;
    // Writing to a String cannot fail; the `let _ =` below are for that reason.
    let _ = writeln!(
        out,
        "# nats-server configuration for NSED, generated from users.json by nsed.\n\
         # Do not edit: every change to the users rewrites it (see docs/nats-auth.md).\n\
         # A running server applies it on `nats-server --signal reload=<pid>` (or SIGHUP).\n"
    );
    let _ = writeln!(out, "listen: {}\n", quote(&server.listen));
    let _ = writeln!(out, "jetstream {{\n  store_dir: {}\n}}\n", quote_path(&server.store_dir)?);
    if let Some(tls) = &server.tls {
        let _ = writeln!(out, "tls {{");
        let _ = writeln!(out, "  cert_file: {}", quote_path(&tls.cert_file)?);
        let _ = writeln!(out, "  key_file: {}", quote_path(&tls.key_file)?);
        if let Some(ca) = &tls.ca_file {
            let _ = writeln!(out, "  ca_file: {}", quote_path(ca)?);
        }
        let _ = writeln!(out, "  verify: {}", tls.verify);
        let _ = writeln!(out, "}}\n");
    }
    let _ = writeln!(out, "authorization {{\n  users = [");
    for user in &state.users {
        render_user(&mut out, user);
    }
    let _ = writeln!(out, "  ]\n}}");
    Ok(out)
}

fn render_user(out: &mut String, user: &User) {
    let permissions = user.role.permissions(&user.public_key);
    let _ = writeln!(out, "    # {} ({})", user.name, user.role);
    let _ = writeln!(out, "    {{\n      nkey: {}", quote(&user.public_key));
    let _ = writeln!(out, "      permissions: {{");
    render_allows(out, "publish", &permissions.publish);
    render_allows(out, "subscribe", &permissions.subscribe);
    let _ = writeln!(out, "      }}\n    }}");
}

fn render_allows(out: &mut String, direction: &str, allows: &[Allow]) {
    let _ = writeln!(out, "        {direction}: {{\n          allow: [");
    // Entries are separated by newlines, which the format accepts like commas.
    for allow in allows {
        let _ = writeln!(out, "            # {}", allow.why);
        let _ = writeln!(out, "            {}", quote(&allow.subject));
    }
    let _ = writeln!(out, "          ]\n        }}");
}

/// A double-quoted string; inside one, `$` is literal and `\` and `"` need escaping.
fn quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

fn quote_path(path: &Path) -> Result<String, AuthError> {
    path.to_str().map(quote).ok_or_else(|| AuthError::NonUtf8Path { path: path.to_path_buf() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_only_what_the_format_needs() {
        assert_eq!(quote("$JS.API.INFO"), r#""$JS.API.INFO""#);
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
