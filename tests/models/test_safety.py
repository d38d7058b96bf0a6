"""Safety checks: each check on its own, and the prompt check refusing before sending."""

from __future__ import annotations

import pytest

from tests.fakes.provider import FakeProvider
from tests.models.conftest import collect, make_config, make_router, request
from tta_codegen.config import Config
from tta_codegen.models.safety import (
    ApiKeyCheck,
    EvalExecCheck,
    PickleLoadsCheck,
    PrivateKeyCheck,
    SafetyChecker,
    SafetyConfig,
    SafetyRefused,
    ShellTrueCheck,
    TlsVerifyCheck,
)

CASES = [
    (
        PrivateKeyCheck,
        "key = '''-----BEGIN RSA PRIVATE KEY-----\nMIIE...'''",
        "PUBLIC_KEY = load('-----BEGIN PUBLIC KEY-----')",
    ),
    (PrivateKeyCheck, "-----BEGIN OPENSSH PRIVATE KEY-----", "# private key handling goes here"),
    (
        ApiKeyCheck,
        'client = OpenAI(api_key="sk-proj-abcdefghijklmnopqrstuvwx123")',
        'key = os.environ["OPENAI_API_KEY"]',
    ),
    (ApiKeyCheck, "AWS = 'AKIAIOSFODNN7EXAMPLE'", "aws_access_key_id = None"),
    (ApiKeyCheck, "token = 'ghp_" + "a" * 36 + "'", "token = get_token()"),
    (EvalExecCheck, "result = eval(input('> '))", "value = ast.literal_eval(text)\nmodel.eval()"),
    (EvalExecCheck, "exec(request.body)", "retrieval(x)\nexec('print(1)')"),
    (
        ShellTrueCheck,
        "subprocess.run(cmd, shell=True)",
        "subprocess.run(['ls', path], shell=False)",
    ),
    (PickleLoadsCheck, "obj = pickle.loads(request.data)", "obj = json.loads(request.data)"),
    (PickleLoadsCheck, "cfg = yaml.load(stream)", "cfg = yaml.safe_load(stream)"),
    (TlsVerifyCheck, "requests.get(url, verify=False)", "requests.get(url, verify=True)"),
    (
        TlsVerifyCheck,
        "ctx = ssl._create_unverified_context()",
        "ctx = ssl.create_default_context()",
    ),
]


@pytest.mark.parametrize(("check", "bad", "good"), CASES)
def test_check_flags_bad_and_passes_good(check: type, bad: str, good: str) -> None:
    found = check().run("import x\n" + bad)
    assert found and all(f.check == check.name for f in found)
    assert found[0].line == 1  # line numbers are 0-based and point at the offending line
    assert check().run(good) == []


def test_findings_never_echo_the_secret() -> None:
    secret = "sk-ant-" + "x" * 40
    with pytest.raises(SafetyRefused) as info:
        SafetyChecker(SafetyConfig(enabled=True)).check_prompt([f"KEY = '{secret}'"])
    assert secret not in str(info.value) and "Anthropic API key" in str(info.value)
    assert "line 1" in str(info.value)


def test_disabled_checker_passes_everything_and_checks_can_be_turned_off() -> None:
    off = SafetyChecker(None)
    off.check_prompt(["-----BEGIN PRIVATE KEY-----"])
    assert off.check_output("eval(x)") == []
    some = SafetyChecker(SafetyConfig(enabled=True, disabled_checks=["shell_true"]))
    found = some.check_output("run(c, shell=True)\npickle.loads(b)")
    assert [f.check for f in found] == ["pickle_loads"]


async def test_router_refuses_secret_prompt_before_sending(fake: FakeProvider) -> None:
    config = make_config(
        providers={"p": {"kind": "openai", "base_url": fake.base_url}},
        models=[{"id": "a", "provider": "p"}],
        safety={"enabled": True},
    )
    router = make_router(config)
    with pytest.raises(SafetyRefused, match="private key"):
        await collect(router, request("fix this:\n-----BEGIN EC PRIVATE KEY-----\nabc"))
    assert fake.requests == []
    assert router.check_output("os.system(cmd)")[0].check == "shell_true"


def test_safety_section_in_config_reaches_the_router() -> None:
    config = Config.model_validate({"safety": {"enabled": True}})
    router = make_router(config)
    assert router.safety.enabled
    with pytest.raises(SafetyRefused):
        router.safety.check_prompt(["-----BEGIN PRIVATE KEY-----"])
