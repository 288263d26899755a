"""Person (drill-down): one person's risk over time with the model of each point, the
reasons of each flagged day, that day's unusual session as a sequence of steps, the
contributions behind the risk, the day against the person's own usual and their peers',
their alerts and the decisions on them from the audit trail.

``?user=ID`` opens the person: a user id, or for a pseudonymised reader the pseudonym
(resolved as the API resolves it, ``Context.resolve``). Every view of a person is an
audit-trail entry naming the reader, the person and the purpose given on the page
(:mod:`auditlens.dashboard.watching`). Pseudonymised readers see the pseudonym
everywhere and can ask to re-identify the person behind one of their alerts
(:mod:`auditlens.dashboard.reidentify`).
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Final

import streamlit as st

from auditlens.api.routes.common import Context
from auditlens.config import Settings
from auditlens.dashboard import person_charts
from auditlens.dashboard.navigation import USER_PARAM, title
from auditlens.dashboard.person_trail import alerts_and_decisions
from auditlens.dashboard.reidentify import reidentification
from auditlens.dashboard.watching import viewed
from auditlens.dashboard.widgets import (
    link_to_alert,
    number,
    period_picker,
    severity_text,
    severity_word,
    when,
    zone_note,
)
from auditlens.errors import AuditlensError
from auditlens.features.catalog import ResourceCatalog
from auditlens.pipeline.replay import Explanation, explain_user
from auditlens.views import (
    NotFound,
    ScoredDay,
    SessionView,
    day_sessions,
    flagged_start,
    scored_days,
    user_history,
    user_risk,
)

#: Days of history shown at first.
HISTORY_DAYS: Final = 90
#: Session-state key of the ``?user=`` the text box was last filled from.
_ASKED_KEY: Final = "_pp_asked"
#: Session-state key of the replayed explanations: "user|day" -> Explanation.
REPLAYED_KEY: Final = "pp_replayed"
#: The replay's checks in Korean.
CHECK_KO: Final = {
    "config": "설정",
    "features": "특성",
    "score": "점수",
    "risk": "위험도",
    "severity": "심각도",
    "reasons": "사유",
}


def render(ctx: Context) -> None:
    """The person the page is asked for, or how to choose one."""
    st.title(title("person", ctx.lang))
    st.caption(zone_note(ctx))
    given = _who(ctx)
    if not given:
        st.info(
            ctx.say(
                "Enter a user id (or pseudonym), or open a person from the overview or an alert.",
                "사용자 ID(또는 가명)를 입력하거나 현황·알림 화면에서 대상자를 여십시오.",
            )
        )
        return
    real = ctx.resolve(given)
    if real is None:
        st.warning(
            ctx.say(f"No person {given!r} is known.", f"{given!r}에 해당하는 사용자가 없습니다.")
        )
        return
    purpose = st.text_input(
        ctx.say("Purpose of this look (kept in the audit trail)", "조회 목적 (감사 기록에 남음)"),
        key="pp_purpose",
        max_chars=500,
    )
    try:
        latest = user_risk(ctx.store, real)
    except NotFound as exc:
        st.warning(exc.text(ctx.lang))
        return
    viewed(ctx, real, "history", purpose)
    _header(ctx, real, latest.risk, latest.severity, latest.day, latest.open_alert_id)
    _timeline(ctx, real)
    alerts_and_decisions(ctx, real)
    reidentification(ctx, real)


def _who(ctx: Context) -> str:
    """The person asked for: the text box, filled from ``?user=`` whenever a link brings a
    new one; what is typed becomes the page's ``?user=`` (a link to share)."""
    asked = st.query_params.get(USER_PARAM, "")
    if st.session_state.get(_ASKED_KEY) != asked:  # a new link: the box starts from it
        st.session_state[_ASKED_KEY] = asked
        st.session_state.pop("pp_user", None)
    given = str(
        st.text_input(
            ctx.say("Person (user id or pseudonym)", "대상자 (사용자 ID 또는 가명)"),
            value=asked,
            key="pp_user",
        )
    ).strip()
    if given and given != asked:
        st.query_params[USER_PARAM] = given
        st.session_state[_ASKED_KEY] = given
    return given


def _header(
    ctx: Context,
    real: str,
    risk: float,
    severity: str,
    day: dt.date,
    open_alert: int | None,
) -> None:
    st.subheader(ctx.show(real))
    cols = st.columns(3)
    cols[0].metric(ctx.say("Latest risk", "최근 위험도"), number(risk, ctx.lang, 1))
    cols[1].metric(ctx.say("Severity", "심각도"), severity_word(severity, ctx.lang))
    cols[2].metric(ctx.say("Scored day", "점수 기준일"), day.isoformat())
    if open_alert is not None:
        link_to_alert(
            open_alert, ctx.say(f"Open alert #{open_alert}", f"진행 중인 알림 #{open_alert}")
        )


def _timeline(ctx: Context, real: str) -> None:
    """The risk per day with each point's model, the flagged days and the chosen one."""
    start, end = period_picker(ctx, key="pp_period", days=HISTORY_DAYS)
    days = user_history(ctx.store, real, start, end)
    if not days:
        st.info(ctx.say("No score in this period.", "이 기간에는 점수가 없습니다."))
        return
    flagged = scored_days(ctx.store, real, start, end, min_severity=ctx.settings.alert_min_severity)
    chosen = _pick_day(ctx, flagged)
    figure = person_charts.risk_timeline(days, ctx.lang, alert_from=ctx.settings.alert_min_severity)
    if chosen is not None:
        person_charts.day_marker(figure, chosen.day)
    st.plotly_chart(figure, width="stretch", key="pp_timeline")
    if not flagged:
        st.caption(
            ctx.say(
                "No day in this period reached the alerting severity.",
                "이 기간에 알림 기준 심각도에 이른 날이 없습니다.",
            )
        )
        return
    _flagged_table(ctx, real, flagged)
    if chosen is not None:
        _day(ctx, real, chosen)


def _pick_day(ctx: Context, flagged: tuple[ScoredDay, ...]) -> ScoredDay | None:
    """The flagged day to open (first: the day with the highest own risk, latest of ties —
    a decayed risk stays high on the quiet days after an incident)."""
    if not flagged:
        return None
    by_day = {d.day: d for d in flagged}
    # the day something happened: its own risk (before decay) first, then the decayed one
    riskiest = max(flagged, key=lambda d: (d.day_risk, d.risk, d.day))
    options = sorted(by_day, reverse=True)
    picked = st.selectbox(
        ctx.say("Flagged day", "위험 표시일"),
        options,
        index=options.index(riskiest.day),
        format_func=lambda d: (
            f"{d.isoformat()} · {number(by_day[d].risk, ctx.lang, 1)} · "
            f"{severity_word(by_day[d].severity, ctx.lang)}"
        ),
        key="pp_day",
    )
    return by_day.get(picked) if isinstance(picked, dt.date) else None


def _reasons(ctx: Context, day: ScoredDay) -> list[str]:
    return [r.text_ko if ctx.lang == "ko" else r.text_en for r in day.reasons]


def _flagged_table(ctx: Context, real: str, flagged: tuple[ScoredDay, ...]) -> None:
    """Every flagged day with its risk, model and reasons."""
    shown = [ctx.disguise(d, real) for d in reversed(flagged)]
    frame = [
        {
            ctx.say("Day", "날짜"): d.day.isoformat(),
            ctx.say("Risk", "위험도"): number(d.risk, ctx.lang, 1),
            ctx.say("That day's own", "당일 자체"): number(d.day_risk, ctx.lang, 1),
            ctx.say("Severity", "심각도"): severity_word(d.severity, ctx.lang),
            ctx.say("Model", "모델"): d.evidence.model_sha256[: person_charts.SHA_SHOWN],
            ctx.say("Reasons", "사유"): " / ".join(_reasons(ctx, d)) or "—",
        }
        for d in shown
    ]
    st.dataframe(frame, hide_index=True, width="stretch", key="pp_flagged")


def _day(ctx: Context, real: str, chosen: ScoredDay) -> None:
    """One flagged day: reasons, contributions, own and peer comparison, sessions."""
    day = ctx.disguise(chosen, real)
    st.markdown(
        f"#### {day.day.isoformat()} · {severity_text(day.severity, ctx.lang)} · "
        + ctx.say(f"risk {number(day.risk, 'en', 1)}", f"위험도 {number(day.risk, 'ko', 1)}")
    )
    for text in _reasons(ctx, day):
        st.markdown(f"- {text}")
    evidence = day.evidence
    st.caption(
        ctx.say(
            f"Run {evidence.run_id}, model {evidence.model_sha256[: person_charts.SHA_SHOWN]}, "
            f"config {evidence.config_hash}; replay it with `auditlens explain {day.user_id} "
            f"--day {day.day}`.",
            f"실행 {evidence.run_id}, 모델 {evidence.model_sha256[: person_charts.SHA_SHOWN]}, "
            f"설정 {evidence.config_hash}. `auditlens explain {day.user_id} --day {day.day}`로 "
            "재현할 수 있습니다.",
        )
    )
    if day.reasons:
        left, right = st.columns(2)
        with left:
            st.plotly_chart(
                person_charts.contribution_waterfall(
                    person_charts.reason_items(day.reasons, ctx.lang),
                    day.contribution_unit,
                    ctx.lang,
                ),
                width="stretch",
                key="pp_waterfall",
            )
        with right:
            st.plotly_chart(
                person_charts.baseline_bars(day.reasons, ctx.lang),
                width="stretch",
                key="pp_baseline",
            )
    _replay(ctx, real, chosen)
    sessions = day_sessions(
        ctx.store,
        real,
        day.day,
        gap_minutes=ctx.settings.session_gap_minutes,
        zone=ctx.zone,
        upto_batch=evidence.data_batch_id,
        flagged=flagged_start(chosen.reasons),
        catalog=catalog_of(ctx.settings),
    )
    _sessions(ctx, sessions)


def _replay(ctx: Context, real: str, day: ScoredDay) -> None:
    """``auditlens explain`` from the page: the stored score replayed through the model it
    names, every feature's signed contribution (the largest eight) and which checks held."""
    kept: dict[str, Explanation] = st.session_state.setdefault(REPLAYED_KEY, {})
    key = f"{real}|{day.day.isoformat()}"
    if st.button(
        ctx.say("Replay the score with its model", "모델로 점수 재현"),
        key="pp_replay",
        help=ctx.say("As `auditlens explain` does.", "`auditlens explain`과 같습니다."),
    ):
        try:
            kept[key] = explain_user(ctx.settings, real, day.day)
        except AuditlensError as exc:
            st.error(ctx.mask(exc.text(ctx.lang), real))
            return
        viewed(ctx, real, "explanation")
    found = kept.get(key)
    if found is None:
        return
    held = ", ".join(
        f"{ctx.say(name, CHECK_KO.get(name, name))} {'✓' if ok else '✗'}"
        for name, ok in found.checks.items()
    )
    st.caption(
        ctx.say(
            f"Replayed: {'reproduced' if found.reproduced else 'NOT reproduced'} ({held}).",
            f"재현 결과: {'일치' if found.reproduced else '불일치'} ({held}).",
        )
    )
    items = [
        (person_charts.feature_label(c.feature, ctx.lang), c.contribution)
        for c in found.contributions
    ]
    if items:
        st.plotly_chart(
            person_charts.contribution_waterfall(
                items,
                found.contribution_unit,
                ctx.lang,
                ctx.say("Every feature's contribution, replayed", "재현한 특성별 기여도"),
            ),
            width="stretch",
            key="pp_replayed",
        )


def catalog_of(settings: Settings) -> ResourceCatalog | None:
    """The deployment's resource catalog (None: none configured), read once per file
    version."""
    path = settings.resource_catalog
    if path is None or not Path(path).is_file():
        return None
    return _catalog(str(path), Path(path).stat().st_mtime_ns, settings.default_sensitivity)


@functools.lru_cache(maxsize=4)
def _catalog(path: str, version: int, default: str) -> ResourceCatalog:
    del version  # part of the cache key: an edited file is read again
    return ResourceCatalog.read_csv(Path(path), default)


def _sessions(ctx: Context, sessions: tuple[SessionView, ...]) -> None:
    """The day's sessions: the one the sequence reason names drawn step by step."""
    if not sessions:
        st.caption(ctx.say("No stored event on this day.", "이날 저장된 이벤트가 없습니다."))
        return
    unusual = [s for s in sessions if s.flagged]
    gap = f"{ctx.settings.session_gap_minutes:g}"
    st.markdown(
        ctx.say(
            f"**Sessions** ({len(sessions)}; a pause over {gap} min starts a new one)",
            f"**세션** ({len(sessions)}개, {gap}분 넘게 쉬면 새 세션)",
        )
    )
    if unusual:
        st.caption(
            ctx.say(
                "The unusual session the sequence reason names:",
                "작업 순서 사유가 가리키는 이례적 세션:",
            )
        )
        st.plotly_chart(
            person_charts.session_steps(unusual[0], ctx.lang, ctx.zone),
            width="stretch",
            key="pp_session",
        )
    for session in sessions:
        start = when(session.start, ctx)
        label = ctx.say(
            f"Session {session.number}: {start}, {len(session.steps)} steps",
            f"세션 {session.number}: {start}, {len(session.steps)}단계",
        )
        with st.expander(("⚠ " if session.flagged else "") + label, expanded=session.flagged):
            st.dataframe(_steps(ctx, session), hide_index=True, width="stretch")


def _steps(ctx: Context, session: SessionView) -> list[dict[str, object]]:
    return [
        {
            ctx.say("Step", "단계"): n,
            ctx.say("Time", "시각"): when(step.at, ctx, seconds=True),
            ctx.say("Action", "작업"): person_charts.step_words(step, ctx.lang),
            ctx.say("Resource", "자원"): step.resource_id or "—",
            ctx.say("Host", "호스트"): step.host or "—",
            ctx.say("Succeeded", "성공"): "—"
            if step.success is None
            else ctx.say("yes" if step.success else "no", "예" if step.success else "아니오"),
        }
        for n, step in enumerate(session.steps, start=1)
    ]
