"""A bad configuration is reported to the user and the server keeps serving."""

from __future__ import annotations

from typing import Any

from tests.fakes.provider import FakeProvider
from tests.guards import until
from tests.lsp.conftest import StartEditor
from tests.lsp.harness import provider_settings


async def test_bad_config_is_shown_and_answered(
    make_editor: StartEditor, fake: FakeProvider
) -> None:
    settings = provider_settings(fake.base_url)
    settings["budget"] = {"daily_usd": "a lot"}
    settings["colour"] = "blue"
    editor = await make_editor(settings)
    client = editor.client
    await until(lambda: client.messages, "a window/showMessage for a bad config")
    shown = client.messages[0].message
    assert "budget.daily_usd" in shown and "colour" in shown and "initializationOptions" in shown
    uri = editor.open("a.py", "x = 1\n")
    answer = await editor.execute(
        "tta.generate",
        {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 0}, "description": "y"},
    )
    assert answer["status"] == "failed" and "budget.daily_usd" in answer["error"]
    assert editor.text(uri) == "x = 1\n"
    assert fake.requests == []
    # The server is still alive and answers.
    models = await editor.execute("tta.listModels", {})
    assert [m["id"] for m in models] == ["fake-a"]


async def test_workspace_file_config_and_reload_on_save(
    make_editor: StartEditor, fake: FakeProvider
) -> None:
    from lsprotocol import types

    # The editor vouches for the folder (as VS Code does for a trusted workspace).
    editor = await make_editor({"workspaceTrusted": True})
    toml = editor.root / "tta-codegen.toml"
    toml.write_text(
        f'[providers.f]\nkind = "openai"\nbase_url = "{fake.base_url}"\n'
        '[[models]]\nid = "from-file"\nprovider = "f"\n'
    )
    editor.client.text_document_did_save(
        types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(uri=toml.as_uri()))
    )

    async def listed() -> Any:
        return await editor.execute("tta.listModels", {})

    models = await until(listed, "the models from the saved file", interval=0.02)
    assert [m["id"] for m in models] == ["from-file"]


async def test_malformed_command_arguments_get_an_lsp_error(editor, fake: FakeProvider) -> None:  # type: ignore[no-untyped-def]
    uri = editor.open("m.py", "a\n")
    for bad, needle in [
        ({"textDocument": {"uri": uri}}, "position"),
        (
            {
                "textDocument": {"uri": uri},
                "position": {"line": -1, "character": 0},
                "description": "x",
            },
            "line",
        ),
        (
            {
                "textDocument": {"uri": uri},
                "position": {"line": 99, "character": 0},
                "description": "x",
            },
            "outside",
        ),
        (
            {
                "textDocument": {"uri": uri + "x"},
                "position": {"line": 0, "character": 0},
                "description": "x",
            },
            "not open",
        ),
        (
            {
                "textDocument": {"uri": uri},
                "position": {"line": 0, "character": 0},
                "description": "  ",
            },
            "empty",
        ),
    ]:
        try:
            await editor.execute("tta.generate", bad)
        except Exception as exc:
            assert needle in str(exc), (needle, exc)
        else:
            raise AssertionError(f"no error for {bad}")
    try:
        await editor.client.workspace_execute_command_async(
            __import__("lsprotocol.types", fromlist=["x"]).ExecuteCommandParams(
                command="tta.generate", arguments=["just a string"]
            )
        )
    except Exception as exc:
        assert "one object argument" in str(exc)
    else:
        raise AssertionError("no error for a string argument")
    assert editor.text(uri) == "a\n"
    assert fake.requests == []
