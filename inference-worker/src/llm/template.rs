//! Chat templates: Hugging Face's Jinja templates rendered with minijinja.

use minijinja::{Environment, ErrorKind, context, syntax::SyntaxConfig};
use serde::{Deserialize, Serialize};

/// One message of a conversation, as chat templates take it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant` (templates may reject others).
    pub role: String,
    /// The message text.
    pub content: String,
}

impl ChatMessage {
    /// A message from `role`.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Self {
        Self { role: role.into(), content: content.into() }
    }

    /// A `system` message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new("system", content)
    }

    /// A `user` message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new("user", content)
    }

    /// An `assistant` message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new("assistant", content)
    }
}

/// The `raise_exception(message)` function templates call to reject a conversation.
fn raise_exception(message: String) -> Result<String, minijinja::Error> {
    Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
}

/// Renders `template` the way `transformers`' `apply_chat_template` does: blocks trimmed
/// (`trim_blocks`, `lstrip_blocks`), Python string methods (`.strip()`, `.startswith()`, ...)
/// available, `raise_exception` defined, and `messages`, `add_generation_prompt`, `bos_token`
/// and `eos_token` in the context.
pub(crate) fn render(
    template: &str,
    messages: &[ChatMessage],
    add_generation_prompt: bool,
    bos_token: &str,
    eos_token: &str,
) -> Result<String, minijinja::Error> {
    let mut env = Environment::new();
    env.set_syntax(SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).build()?);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function("raise_exception", raise_exception);
    let messages: Vec<minijinja::Value> = messages
        .iter()
        .map(|m| context! { role => m.role.clone(), content => m.content.clone() })
        .collect();
    env.template_from_str(template)?.render(context! {
        messages,
        add_generation_prompt,
        bos_token,
        eos_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHATML: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] | trim + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn renders_chatml_with_a_generation_prompt() {
        let text = render(CHATML, &[ChatMessage::user(" hi ")], true, "", "").unwrap();
        assert_eq!(text, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
    }

    #[test]
    fn python_string_methods_and_special_tokens_are_available() {
        let template = "{{ bos_token }}{% for m in messages %}{{ m.content.strip().upper() }}{% endfor %}{{ eos_token }}";
        let text = render(template, &[ChatMessage::user("  x ")], false, "<s>", "</s>").unwrap();
        assert_eq!(text, "<s>X</s>");
    }

    #[test]
    fn raise_exception_fails_the_render() {
        let template =
            "{% if messages[0].role != 'user' %}{{ raise_exception('user first') }}{% endif %}";
        let err = render(template, &[ChatMessage::assistant("a")], false, "", "").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidOperation);
    }
}
