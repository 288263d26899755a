"""What the command line prints after a job (cli/render.py, cli/render_trail.py,
cli/progress.py), in Korean and English.

Counts carry their Korean counter (docs/style-ko.md): 명 for people, 건 for events, rows
and alerts, 일 for days, 개 for things, 회 for attempts.
"""

from __future__ import annotations

from typing import Final

TEXTS: Final[dict[str, dict[str, str]]] = {
    # --- generate, ingest, quarantine -------------------------------------------------
    "render.sample": {
        "ko": "사용자 {users:,}명, {days}일간 이벤트 {events:,}건 생성, 내부자 {insiders}명 "
        "심음 ({seconds:.1f}초)",
        "en": "{events:,} events for {users:,} users over {days} days, "
        "{insiders} planted insiders ({seconds:.1f}s)",
    },
    "render.ingested": {
        "ko": "{source}: {ingested:,}건 수집 = 정상 {accepted:,}건 + 격리 {quarantined:,}건",
        "en": "{source}: ingested {ingested:,} = accepted {accepted:,} "
        "+ quarantined {quarantined:,}",
    },
    "render.produced": {
        "ko": "{topic}: 이벤트 {produced:,}건 전송 ({bootstrap}, {seconds:.1f}초, "
        "초당 {rate:,.0f}건)",
        "en": "{topic}: produced {produced:,} events ({bootstrap}, {seconds:.1f}s, {rate:,.0f}/s)",
    },
    "render.produce_skipped": {
        "ko": "파일에서 읽지 못한 행 {skipped:,}건은 보내지 않았습니다",
        "en": "{skipped:,} rows the file reader could not read were not produced",
    },
    "render.tampering": {
        "ko": "; 로그 변조 의심 {n}건",
        "en": "; {n} possible log-tampering findings",
    },
    "render.nothing_new": {
        "ko": "{source}: 새 데이터 없음 (기준점까지 이미 수집함)",
        "en": "{source}: nothing new (already ingested up to the watermark)",
    },
    "render.unreadable": {
        "ko": "{source}: 읽지 못한 파일, 격리함:",
        "en": "{source}: file not read, quarantined:",
    },
    "render.stopped": {
        "ko": "{source} 수집이 중단되었습니다: {error}",
        "en": "{source} stopped: {error}",
    },
    "render.unknown_kept": {
        "ko": "알 수 없는 작업 유형, 그대로 유지함('기타'로 집계): {listed}{more}; 실제 작업으로 "
        "집계하려면 value_map.action_type(--value-map 파일)에 매핑하십시오",
        "en": "unknown action types, kept as given (counted as 'other'): {listed}{more}; map them "
        "in value_map.action_type (--value-map FILE) to count them as what they are",
    },
    "render.unknown_quarantined": {
        "ko": "알 수 없는 작업 유형, 격리함: {listed}{more}; value_map.action_type(--value-map "
        '파일)에 매핑하거나 unknown_actions = "keep"으로 설정하십시오',
        "en": "unknown action types, quarantined: {listed}{more}; map them in "
        'value_map.action_type (--value-map FILE) or set unknown_actions = "keep"',
    },
    "render.more": {"ko": " 외 {n}개", "en": " and {n} more"},
    # --- run ------------------------------------------------------------------------------
    "render.scored": {
        "ko": "이벤트 {events:,}건에서 사용자-일 {windows:,}개를 점수화하고 {rows:,}행을 "
        "저장했습니다 (모델 {model}{fresh}, 실행 {run}, {seconds:.1f}초)",
        "en": "scored {windows:,} user-days from {events:,} events with model {model}{fresh}; "
        "stored {rows:,} rows (run {run}) in {seconds:.1f}s",
    },
    "render.newly_fitted": {"ko": " (새로 학습함)", "en": " (newly fitted)"},
    "render.unknown_resources": {
        "ko": "자원 ID {n:,}개가 자원 목록에 없습니다 (기본 민감도 적용)",
        "en": "{n:,} resource ids are not in the catalog (default sensitivity used)",
    },
    "render.capacity": {
        "ko": "검토 가능 인원 {capacity}명: 사용자 {flagged}명 선정, "
        "기준 위험 점수 {cutoff:.1f}점 이상",
        "en": "review capacity {capacity}: flagging {flagged} users, "
        "implied cut-off risk >= {cutoff:.1f}",
    },
    "render.raised": {
        "ko": "실행 {run}: {min_severity} 이상(위험 점수 {threshold:.0f}점 이상, 최대 "
        "{capacity}명) 사용자 {users}; 알림 {alerts} 생성, {upgraded}건 심각도 상향(다시 호출), "
        "{absorbed}건 열린 알림에 추가, {deduplicated}건 중복 제거, {suppressed}건 억제, "
        "{handled}건 이미 처리됨; 발송 {deliveries} 대기 (조용한 시간으로 {held}건 보류)",
        "en": "run {run}: {users} at or above {min_severity} (risk >= {threshold:.0f}, at most "
        "{capacity}); {alerts} opened, {upgraded} raised in severity (paged again), "
        "{absorbed} added to open alerts, {deduplicated} deduplicated, {suppressed} "
        "suppressed, {handled} already handled; {deliveries} queued ({held} held by quiet hours)",
    },
    "render.unrouted": {
        "ko": "알림 {alerts}이 어떤 발송 규칙에도 맞지 않습니다{verb} ({add}); "
        "`auditlens alerts list`로 확인하십시오",
        "en": "{alerts} {verb} no routing rule ({add}); see `auditlens alerts list`",
    },
    "render.add_route": {
        "ko": "auditlens.toml에 [[alert_routes]] 규칙을 추가하십시오",
        "en": "add an [[alert_routes]] rule to auditlens.toml",
    },
    "render.dispatched": {
        "ko": "시도 {attempted}건 중 {sent}건 발송, 재시도 {retrying}건, 실패 보관 {dead}건, "
        "취소 {cancelled}건; 대기 {pending}건{due}",
        "en": "delivered {sent} of {attempted} attempted, {retrying} to retry, {dead} "
        "dead-lettered, {cancelled} cancelled; {pending} pending{due}",
    },
    "render.next_due": {"ko": "; 다음 발송 {at}", "en": "; next due {at}"},
    "render.dead_letter": {
        "ko": "발송 실패: 발송 #{delivery} (알림 #{alert}) → {channel}, {attempts} 시도 후:",
        "en": "dead letter: delivery #{delivery} (alert #{alert}) to {channel} after {attempts}:",
    },
    # --- demo -----------------------------------------------------------------------------
    "render.demo_sample": {
        "ko": "표본: 이벤트 {events:,}건, 사용자 {users}명, 심은 내부자 {insiders}명 ({dir})",
        "en": "sample: {events:,} events, {users} users, {insiders} planted insiders in {dir}",
    },
    "render.demo_store": {
        "ko": "저장소 {url}: 이벤트 {accepted:,}건, 격리 {quarantined:,}행 (배치 {batches}개)",
        "en": "store {url}: {accepted:,} events, {quarantined:,} quarantined rows in "
        "{batches} batches",
    },
    "render.demo_replay": {
        "ko": "저장소에서 {user} {day} 재현: {verdict} ({checks})",
        "en": "replay of {user} {day} from the store: {verdict} ({checks})",
    },
    "render.demo_alerts_file": {
        "ko": "알림을 {path}에 기록했습니다 (위에도 출력함)",
        "en": "alerts written to {path} (and printed above)",
    },
    "render.trail_ok": {
        "ko": "감사 로그 검증 완료: 항목 {n}건",
        "en": "audit trail verified: {n} entries",
    },
    "render.trail_broken": {
        "ko": "감사 로그 손상, 항목 {seq}:",
        "en": "audit trail BROKEN at entry {seq}:",
    },
    # --- score, evaluate, train, explain --------------------------------------------------
    "render.score_file": {
        "ko": "이벤트 {ingested:,}건 읽음 = 정상 {accepted:,}건 + 격리 {quarantined:,}건; "
        "사용자-일 {windows:,}개 점수화; 사용자 {users:,}명을 {output}에 기록 ({seconds:.1f}초)",
        "en": "{ingested:,} events read = {accepted:,} accepted + {quarantined:,} quarantined; "
        "{windows:,} user-days scored; {users:,} users written to {output} ({seconds:.1f}s)",
    },
    "render.small_sample": {
        "ko": "표시된 내부자가 {n}명뿐입니다: 10명 미만이면 수치가 한 사람에 좌우되어 의미가 "
        "적습니다 (구간 참조)",
        "en": "only {n} labelled insiders: with fewer than 10 these figures hang on one person "
        "and say little (see the intervals)",
    },
    "render.labelled_of": {
        "ko": "사용자 {users}명 중 표시된 내부자 {n}명",
        "en": "{n} labelled of {users} users",
    },
    "render.intervals_users": {
        "ko": "구간: 사용자 단위 부트스트랩, 재표본 {n}회",
        "en": "intervals: bootstrap over users, {n} resamples",
    },
    "render.ece": {
        "ko": "앙상블 보정 오차(ECE): {ece:.4f}",
        "en": "ensemble calibration error (ECE): {ece:.4f}",
    },
    "render.report_dir": {
        "ko": "보고서: {dir} ({seconds:.0f}초)",
        "en": "report: {dir} ({seconds:.0f}s)",
    },
    "render.trained": {
        "ko": "{message}; 모델 {sha} 등록 ({seconds:.0f}초); 이제 `auditlens run`이 이 모델로 "
        "점수화합니다",
        "en": "{message}; model {sha} registered ({seconds:.0f}s); `auditlens run` now scores "
        "with it",
    },
    "render.trained_version": {
        "ko": "MLflow 모델 버전 {version} ({alias}); `auditlens model list`로 확인하십시오",
        "en": "MLflow model version {version} ({alias}); see `auditlens model list`",
    },
    "render.explained": {
        "ko": "{user} {day}: 위험 점수 {risk:.1f}점 ({severity}); 저장값 {stored:.1f}점 "
        "(실행 {run}, 모델 {model}, 배치 {batch}까지의 데이터)",
        "en": "{user} {day}: risk {risk:.1f} ({severity}); stored {stored:.1f} in run {run} "
        "with model {model}, data up to batch {batch}",
    },
    "render.contributions_shap": {
        "ko": "특성별 기여도 (SHAP, 로그 오즈; +는 위험을 높이고 -는 낮춤)",
        "en": "feature contributions (SHAP, log-odds; + pushes the risk up, - down)",
    },
    "render.contributions_surprise": {
        "ko": "특성별 기여도 (희소성: 1 = 10명 중 1명보다 드묾)",
        "en": "feature contributions (surprise: 1 = rarer than 1 in 10)",
    },
    # --- alerts and the audit trail -------------------------------------------------------
    "render.outbox": {
        "ko": "발송함: 대기 {pending}건, 발송 {sent}건, 실패 보관 {dead}건, 취소 {cancelled}건",
        "en": "outbox: {pending} pending, {sent} sent, {dead} dead-lettered, {cancelled} cancelled",
    },
    "render.alert_head": {
        "ko": "알림 #{id} {user}: 위험 점수 {risk:.1f}점 ({severity}), {status}; 일자 {days}",
        "en": "alert #{id} {user}: risk {risk:.1f} ({severity}), {status}; days {days}",
    },
    "render.deliveries": {"ko": "발송: {states}", "en": "deliveries: {states}"},
    "render.decision": {
        "ko": "알림 #{id} ({user}, {severity})의 상태: {status}; 감사 항목 {seq}, 처리자 {actor}",
        "en": "alert #{id} ({user}, {severity}) is now {status}; audit entry {seq} by {actor}",
    },
    "render.on_behalf": {"ko": " ({who} 대리)", "en": " on behalf of {who}"},
    "render.four_eyes": {
        "ko": "4안 원칙: 승인자 역할을 가진 다른 사람의 승인이 필요합니다 "
        "(`auditlens alerts approve {id}`)",
        "en": "four-eyes: another principal with the approver role must approve "
        "(`auditlens alerts approve {id}`)",
    },
    "render.label_candidate": {
        "ko": "지도 학습 모델의 오탐 레이블 후보로 저장했습니다",
        "en": "stored as a false-positive label candidate for the supervised model",
    },
    "render.suppressed": {
        "ko": "{user}의 '{scenario}' 알림을 {until}까지 억제합니다",
        "en": "{scenario} alerts for {user} suppressed until {until}",
    },
    "render.resolves": {"ko": "종료 발송 대기: {channels}", "en": "resolve queued for: {channels}"},
    "render.roles_applied": {
        "ko": "-- 적용함: {role}은(는) 감사 로그를 읽고 추가할 수 있으며 변경할 수 없습니다",
        "en": "-- applied: {role} can read and append the audit trail, not change it",
    },
    "render.lake_ok": {
        "ko": "이벤트 저장소 검증 완료: 파트 {n}개가 기록된 sha256과 일치",
        "en": "event lake verified: {n} parts match their recorded sha256",
    },
    "render.lake_broken": {"ko": "이벤트 저장소 손상:", "en": "event lake BROKEN:"},
    "render.verified": {
        "ko": "감사 로그 검증 완료: 항목 {n}건; 헤드 {seq}:{hash}; 알림, 억제, 레이블 후보가 "
        "감사 로그와 일치합니다",
        "en": "audit trail verified: {n} entries; head {seq}:{hash}; alerts, suppressions and "
        "label candidates match the trail",
    },
    "render.verify_broken": {
        "ko": "감사 로그 변조 탐지, 항목 {seq}:",
        "en": "audit trail BROKEN at entry {seq}:",
    },
    "render.verified_before": {
        "ko": "(그 전 항목 {n}건은 검증됨)",
        "en": "({n} entries verified before it)",
    },
    "render.tables_differ": {
        "ko": "테이블이 감사 로그와 다릅니다 ({n}건):",
        "en": "tables differ from the audit trail ({n}):",
    },
    "render.restored": {"ko": "감사 로그에서 복원함", "en": "restored from the trail"},
    "render.restorable": {"ko": "복원 가능 (--apply)", "en": "can be restored (--apply)"},
    "render.needs_person": {"ko": "사람의 확인 필요:", "en": "needs a person:"},
    "render.tables_agree": {
        "ko": "테이블과 감사 로그가 일치합니다",
        "en": "the tables agree with the audit trail",
    },
    "render.no_audit": {
        "ko": "조건에 맞는 감사 항목이 없습니다",
        "en": "no audit entries match",
    },
    "render.listed_below": {
        "ko": "{column} (표의 번호 순서)",
        "en": "{column}, by their number in the table",
    },
    # --- the severities (docs/style-ko.md; alerts/message.py says the same) -----------------
    "severity.low": {"ko": "낮음", "en": "low"},
    "severity.medium": {"ko": "보통", "en": "medium"},
    "severity.high": {"ko": "높음", "en": "high"},
    "severity.critical": {"ko": "심각", "en": "critical"},
    # --- progress -------------------------------------------------------------------------
    "progress.started": {"ko": "{stage} 시작{planned}", "en": "{stage} started{planned}"},
    "progress.done": {"ko": "{stage} 완료{count}{took}", "en": "{stage} done{count}{took}"},
    "progress.of": {
        "ko": ": 전체 {total:,}{unit} 중 {done:,}{unit}",
        "en": ": {done:,} of {total:,} {unit}",
    },
    "progress.left": {"ko": ", 약 {left} 남음", "en": ", about {left} left"},
}
