"""Model selection: hard requirements are never violated when some model meets them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes.provider import FakeProvider
from tests.models.conftest import make_config, make_router
from tta_codegen.config import ModelConfig
from tta_codegen.models.budget import estimate_cost
from tta_codegen.models.errors import NoModelConfigured
from tta_codegen.models.selection import Observed, Requirements, select, violations

TASK = "code_generation"

models_st = st.lists(
    st.builds(
        lambda i, q, pin, pout, free, lat, task: ModelConfig(
            id=f"m{i}",
            provider="p",
            quality=q,
            input_cost_per_mtok=pin,
            output_cost_per_mtok=pout,
            free=free,
            latency_ms=lat,
            task_types=["code_generation", "tests"] if task else ["refinement"],
        ),
        st.integers(0, 10_000),
        st.one_of(st.none(), st.floats(0, 10)),
        st.floats(0, 100),
        st.floats(0, 100),
        st.booleans(),
        st.one_of(st.none(), st.floats(10, 60_000)),
        st.booleans(),
    ),
    min_size=1,
    max_size=8,
    unique_by=lambda m: m.id,
)
req_st = st.builds(
    Requirements,
    max_latency_ms=st.one_of(st.none(), st.floats(10, 60_000)),
    min_quality_score=st.one_of(st.none(), st.floats(0, 10)),
    max_cost_usd=st.one_of(st.none(), st.floats(0, 0.2)),
    prefer_free=st.booleans(),
)
observed_st = st.dictionaries(
    st.sampled_from([f"m{i}" for i in range(20)]),
    st.builds(
        lambda n, f, p50: Observed(requests=n, failures=min(f, n), latency_p50_ms=p50),
        st.integers(0, 100),
        st.integers(0, 100),
        st.one_of(st.none(), st.floats(10, 60_000)),
    ),
)


@settings(max_examples=300, deadline=None)
@given(models=models_st, req=req_st, observed=observed_st, prompt=st.integers(0, 50_000))
def test_never_picks_a_violator_when_a_model_qualifies(
    models: list[ModelConfig], req: Requirements, observed: dict[str, Observed], prompt: int
) -> None:
    def ok(m: ModelConfig) -> bool:
        return not violations(m, TASK, req, observed.get(m.id), prompt, 1024)

    qualifying = [m for m in models if TASK in m.task_types and ok(m)]
    if not qualifying:
        with pytest.raises(NoModelConfigured, match=r"requirements|task_types"):
            select(models, TASK, req, observed, prompt_tokens=prompt, max_tokens=1024)
        return
    plan = select(models, TASK, req, observed, prompt_tokens=prompt, max_tokens=1024)
    assert plan, "a qualifying model exists, so the plan is not empty"
    # Every model in the plan meets every hard requirement, and all qualifying are there.
    assert {m.id for m in plan} == {m.id for m in qualifying}
    for m in plan:
        assert TASK in m.task_types
        if req.max_cost_usd is not None:
            assert estimate_cost(m, prompt, 1024) <= req.max_cost_usd
        if req.min_quality_score is not None:
            q = m.quality_for(TASK)
            assert q is not None and q >= req.min_quality_score
    if req.prefer_free and any(
        m.free or (m.input_cost_per_mtok == m.output_cost_per_mtok == 0) for m in plan
    ):
        first = plan[0]
        assert first.free or (first.input_cost_per_mtok == first.output_cost_per_mtok == 0)


@settings(max_examples=200, deadline=None)
@given(models=models_st, observed=observed_st)
def test_unavailable_models_go_last(
    models: list[ModelConfig], observed: dict[str, Observed]
) -> None:
    suitable = [m for m in models if TASK in m.task_types]
    if not suitable:
        return
    down = frozenset(m.id for m in suitable[::2])
    plan = select(models, TASK, Requirements(), observed, unavailable=down)
    flags = [m.id in down for m in plan]
    assert flags == sorted(flags)  # all available ones first


def _m(mid: str, **kw: object) -> ModelConfig:
    return ModelConfig(id=mid, provider="p", **kw)  # type: ignore[arg-type]


def test_quality_per_task_and_failures_rank() -> None:
    strong = _m("strong", quality={"code_generation": 9, "tests": 4})
    weak = _m("weak", quality=6)
    assert [m.id for m in select([weak, strong], TASK, Requirements())] == ["strong", "weak"]
    assert [m.id for m in select([weak, strong], "tests", Requirements())] == ["weak", "strong"]
    # A model that keeps failing sinks below a steadier one.
    flaky = {"strong": Observed(requests=50, failures=40)}
    assert select([weak, strong], TASK, Requirements(), flaky)[0].id == "weak"


def test_observed_latency_overrides_declared() -> None:
    fast_on_paper = _m("a", latency_ms=100, quality=8)
    other = _m("b", latency_ms=800, quality=5)
    req = Requirements(max_latency_ms=500)
    assert [m.id for m in select([fast_on_paper, other], TASK, req)] == ["a"]
    slow_really = {"a": Observed(requests=5, latency_p50_ms=4000)}
    with pytest.raises(NoModelConfigured, match=r"a: latency 4000 ms > max_latency_ms 500"):
        select([fast_on_paper, other], TASK, req, slow_really)


def test_no_model_message_names_each_shortfall() -> None:
    with pytest.raises(NoModelConfigured) as info:
        select([_m("x", quality=3), _m("y")], TASK, Requirements(min_quality_score=7))
    assert "x: quality 3 < min_quality_score 7" in str(info.value)
    assert "y: quality not declared" in str(info.value)


async def test_router_plan_uses_task_requirements(fake: FakeProvider) -> None:
    config = make_config(
        providers={"p": {"kind": "openai", "base_url": fake.base_url}},
        models=[
            {
                "id": "cheap",
                "provider": "p",
                "quality": 6,
                "input_cost_per_mtok": 0.1,
                "output_cost_per_mtok": 0.2,
            },
            {
                "id": "best",
                "provider": "p",
                "quality": 9,
                "input_cost_per_mtok": 15,
                "output_cost_per_mtok": 75,
            },
            {"id": "free", "provider": "p", "quality": 5, "free": True},
        ],
        routing={
            "default": "best",
            "tasks": {
                "code_generation": {"min_quality_score": 5.5, "max_cost_usd": 0.01},
                "tests": {"prefer_free": True},
                "refinement": {"model": "best", "fallbacks": ["cheap"]},
            },
        },
    )
    router = make_router(config)
    assert [m.id for m in router.plan("code_generation", max_tokens=1024)] == ["cheap"]
    assert router.plan("tests")[0].id == "free"
    assert [m.id for m in router.plan("refinement")] == ["best", "cheap"]
    assert [m.id for m in router.plan("code_generation", "free")] == ["free"]
