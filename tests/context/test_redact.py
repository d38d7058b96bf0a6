from tta_codegen.redact import contains_secret, is_secret_path, redact

KEY_BLOCK = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\nabcdefghij\n-----END RSA PRIVATE KEY-----"
)


def test_provider_cloud_and_token_shapes_are_redacted() -> None:
    cases = {
        "sk-proj-abcdefghijklmnopqrstuvwxyz123456": "api-key",
        "sk-ant-api03-abcdefghijklmnopqrstu": "api-key",
        "AKIAIOSFODNN7EXAMPLE": "aws-key",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U": "jwt",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789": "github-token",
        "xoxb-123456789012-abcdefghij": "slack-token",
        "AIzaSyA1234567890abcdefghijklmnopqrstuv": "google-key",
        "hf_abcdefghijklmnopqrstuvwxyzABCDEF": "hf-token",
        "sk_live_abcdefghijklmnopqrstuvwx": "stripe-key",
    }
    for secret, kind in cases.items():
        out = redact(f'KEY = "{secret}"\n')
        assert secret not in out, secret
        assert f"[REDACTED {kind}]" in out, (secret, out)


def test_private_key_block_keeps_line_count() -> None:
    text = f"a = 1\n{KEY_BLOCK}\nb = 2\n"
    out = redact(text)
    assert "MIIEowIBAAKCAQEA7" not in out and "[REDACTED private-key]" in out
    assert out.count("\n") == text.count("\n")
    assert out.endswith("b = 2\n")


def test_secret_named_assignments_are_redacted() -> None:
    assert "hunter2hunter2" not in redact('password = "hunter2hunter2"')
    assert "supersecretvalue123" not in redact("{'api_key': 'supersecretvalue123'}")
    out = redact("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")
    assert "wJalrXUtnFEMI" not in out and "[REDACTED aws-secret]" in out


def test_ordinary_code_is_left_alone() -> None:
    code = (
        'password = os.environ["DB_PASSWORD"]\n'
        'name = "task-1234567890abcdefghijkl"\n'
        "def mask(sk): return sk\n"
        'greeting = "hello world, how are you"\n'
    )
    assert redact(code) == code
    assert not contains_secret(code)


def test_secret_paths() -> None:
    for p in [".env", ".env.local", "config/prod.env", "certs/server.pem", "tls.key",
              "home/.ssh/id_rsa", "id_ed25519.pub", ".aws/credentials", "x/.netrc",
              "client_secret_123.json", ".npmrc", "terraform.tfvars"]:  # fmt: skip
        assert is_secret_path(p), p
    for p in ["secrets.py", "env.py", "keys.py", "src/environment.ts", "README.md", "monkey.py"]:
        assert not is_secret_path(p), p
