"""Quality gates: run checks on generated code, in a sandbox, and report. Never calls models.

Entry point: :func:`tta_codegen.gates.runner.run_gates`. Modules: ``settings`` (``[gates]``,
``[refine]``), ``types`` (inputs and results), ``workdir`` (the temporary copy), ``sandbox``
(running one process: limits, environment, timeout), ``isolation`` (Linux namespaces, in the
child), ``python`` (syntax, ruff, mypy, tests) and ``command`` (shell command gates).
"""
