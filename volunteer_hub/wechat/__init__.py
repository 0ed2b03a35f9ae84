"""WeChat Official Account (公众号): OAuth login and binding, template messages."""
