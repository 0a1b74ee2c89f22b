"""Keys and tokens: verifying bearer tokens and signed messages (JWKS files and URLs),
and the development tokens."""
