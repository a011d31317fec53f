"""Fault injection against the backup tools, on the real PostgreSQL and the moto server.

One test per fault. Each asserts the exit code, the single FAIL line (and what it names),
that nothing in the vault or the source database was deleted or overwritten, and that no
temp file (the work directory is given and must be empty afterwards) or scratch database
remains. Stalls and signals are driven by events the test controls (a proxy that stops
forwarding, a marker file a wrapper writes), with short injectable timeouts.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from backup_testkit import (
    PG_BIN_DIR,
    Moto,
    PgServer,
    Source,
    StallingProxy,
    backup_config,
    fake_bin,
    put_backup,
    rds_instance,
    stamp,
    table_contents,
    vault_state,
)

from ops import backup, restore_drill, runctl, vault, verify_backups
from ops.awsenv import OpsError

REPO = Path(__file__).resolve().parents[3]
# Seconds without progress before a child is stopped, in these tests. Short, because idle
# time only counts once the test's proxy has stalled (see `idle_counts_only_after`).
STALL = "0.2"
# How long a stopped child gets between SIGTERM and SIGKILL, in these tests. A pg_dump or
# pg_restore stuck on a stalled server does not exit on SIGTERM (its handler's cancel request
# waits on the same stalled path), so the grace always runs out there; the tools' 5 s
# default would only make the tests wait.
KILL_GRACE = 0.05
# Runs a tool's main() in a child process with the short kill grace (the tests' seam).
SHORT_GRACE_RUNNER = f"""
import runpy, sys
from ops import runctl
runctl.KILL_GRACE_SECONDS = {KILL_GRACE}
sys.argv[0] = sys.argv.pop(1)
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""

# How long a test waits for an event before calling it a hang. Generous on purpose: these are
# guards against a stuck tool on a loaded CI machine, never speed assertions.
HANG_GUARD_S = 600


def fail_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("FAIL")]


def single_fail(out: str, *phrases: str) -> str:
    """The one FAIL line of a report, which must name every phrase."""
    lines = fail_lines(out)
    assert len(lines) == 1, f"expected exactly one FAIL line:\n{out}"
    for phrase in phrases:
        assert phrase in lines[0], f"FAIL line does not name {phrase!r}: {lines[0]}"
    assert "Traceback" not in out, out
    return lines[0]


def drill_argv(
    moto: Moto, postgres: PgServer, source: Source, bucket: str, work: Path, *extra: str
) -> list[str]:
    return [
        "--bucket", bucket, "--db-name", "app",
        "--target-host", postgres.host, "--target-port", str(postgres.port),
        "--target-secret-arn", source.secret_arn, "--sslmode", "disable",
        "--endpoint-url", moto.endpoint, "--pg-bin-dir", postgres.bin_dir,
        "--work-dir", str(work), "--stall-timeout-seconds", "60",
        *extra,
    ]  # fmt: skip


def verify_argv(moto: Moto, instance: str, bucket: str, work: Path, *extra: str) -> list[str]:
    return [
        "--db-instance-id", instance, "--bucket", bucket, "--db-name", "app",
        "--min-lock-days", "30", "--endpoint-url", moto.endpoint,
        "--pg-bin-dir", PG_BIN_DIR, "--work-dir", str(work), *extra,
    ]  # fmt: skip


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def assert_nothing_left(work: Path, postgres: PgServer, databases: set[str]) -> None:
    left = list(work.rglob("*"))
    assert left == [], f"temp files left in the work directory: {left}"
    assert postgres.databases() == databases, (
        f"databases changed: {postgres.databases() ^ databases}"
    )


def fingerprint(postgres: PgServer) -> str:
    return hashlib.sha256(repr(table_contents(postgres, "app")).encode()).hexdigest()


@pytest.fixture(scope="module")
def good_vault(moto: Moto, postgres: PgServer, source: Source, make_vault, aws_scratch):
    """A vault with one backup made by the job (tests only read it)."""
    vault_ = make_vault()
    with pytest.MonkeyPatch.context() as monkeypatch:
        from backup_testkit import set_aws_test_env

        set_aws_test_env(monkeypatch, aws_scratch)
        key = backup.run_backup(backup_config(source, postgres, vault_, moto)).key
    return vault_, key


# --- 1. time the job's clock cannot forge -------------------------------------------------


def test_future_dated_key_is_skipped_and_the_newest_valid_backup_restored(
    moto: Moto, postgres: PgServer, source: Source, make_vault, reference_dump, work, capsys
):
    """The data-loss case: a key from a fast clock must not win over newer backups."""
    vault_ = make_vault()
    future = "postgres/app/20270101T000000Z.dump"
    put_backup(moto, vault_, future, reference_dump)
    good = backup.run_backup(backup_config(source, postgres, vault_, moto)).key
    state, databases = vault_state(moto, vault_), postgres.databases()

    code = restore_drill.main(drill_argv(moto, postgres, source, vault_.bucket, work))
    out = capsys.readouterr().out
    assert code == 0, out
    warn = [line for line in out.splitlines() if line.startswith("WARN")]
    assert len(warn) == 1 and future in warn[0] and "clock was ahead" in warn[0], out
    assert f"PASS locate         s3://{vault_.bucket}/{good}" in out, out
    assert fail_lines(out) == [], out
    assert vault_state(moto, vault_) == state, "the drill changed the vault"
    assert_nothing_left(work, postgres, databases)

    instance = verify_backups_instance(moto)
    code = verify_backups.main(verify_argv(moto, instance, vault_.bucket, work))
    out = capsys.readouterr().out
    assert code == 1, out
    single_fail(out, "backup.key-time", future, "after S3 stored it")
    assert f"PASS backup.newest                {good}" in out, out
    assert vault_state(moto, vault_) == state and list(work.iterdir()) == []


def verify_backups_instance(moto: Moto) -> str:
    return rds_instance(moto)


def test_ages_are_never_printed_negative_as_minus_minutes():
    assert vault.format_age(timedelta(seconds=-30)) == "0m30s in the future"
    assert vault.format_age(timedelta(seconds=90)) == "1m30s"
    assert vault.format_age(timedelta(hours=-240)) == "240.0h in the future"


def test_key_time_tolerance_is_the_named_one():
    stored = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    tolerance = vault.DEFAULT_UPLOAD_TOLERANCE

    def ref(dumped: datetime) -> vault.BackupRef:
        return vault.BackupRef("b", f"postgres/app/{stamp(dumped)}.dump", dumped, 1, None, stored)

    assert vault.key_time_defect(ref(stored - tolerance), tolerance) is None
    assert vault.key_time_defect(ref(stored - tolerance - timedelta(minutes=1)), tolerance)
    assert vault.key_time_defect(ref(stored + vault.CLOCK_SKEW_TOLERANCE), tolerance) is None
    late = ref(stored + vault.CLOCK_SKEW_TOLERANCE + timedelta(seconds=1))
    assert "clock was ahead" in (vault.key_time_defect(late, tolerance) or "")


# --- 2. proven restorable before it counts -------------------------------------------------


@pytest.mark.parametrize(
    ("body", "honest", "db", "check_phrase"),
    [
        ("empty", True, "app", "pg_restore --list failed"),
        ("truncated", True, "app", "could not read"),
        ("plain-sql", True, "app", "pg_restore --list failed"),
        ("other-db", True, "app", "of database other; expected CUSTOM of app"),
    ],
)
def test_verify_proves_the_newest_object_is_a_complete_archive(
    body: str,
    honest: bool,
    db: str,
    check_phrase: str,
    moto: Moto,
    postgres: PgServer,
    source: Source,
    make_vault,
    reference_dump,
    work,
    capsys,
):
    """Bad bytes hashed before upload pass the checksum; the archive check catches them."""
    vault_ = make_vault()
    data = {
        "empty": b"",
        "truncated": reference_dump[: len(reference_dump) * 2 // 3],
        "plain-sql": b"CREATE TABLE t (id int);\n",
        "other-db": other_db_dump(postgres, source),
    }[body]
    key = f"postgres/app/{stamp(datetime.now(UTC))}.dump"
    put_backup(moto, vault_, key, data)
    state = vault_state(moto, vault_)
    code = verify_backups.main(
        verify_argv(moto, verify_backups_instance(moto), vault_.bucket, work)
    )
    out = capsys.readouterr().out
    assert code == 1, f"{body} object passed verify_backups:\n{out}"
    single_fail(out, "backup.archive", key, check_phrase)
    assert "PASS backup.checksum" in out, out
    assert vault_state(moto, vault_) == state and list(work.iterdir()) == []


_OTHER_DUMP: dict[str, bytes] = {}


def other_db_dump(postgres: PgServer, source: Source) -> bytes:
    if "other" not in _OTHER_DUMP:
        if "other" not in postgres.databases():
            postgres.psql(f'CREATE DATABASE other OWNER "{source.username}";')
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(PGHOST=postgres.host, PGPORT=str(postgres.port), PGUSER=source.username,
                   PGPASSWORD=source.password, PGDATABASE="other")  # fmt: skip
        _OTHER_DUMP["other"] = subprocess.run(
            [f"{postgres.bin_dir}/pg_dump", "-Fc"], capture_output=True, check=True, env=env
        ).stdout
    return _OTHER_DUMP["other"]


def test_size_drop_beyond_the_threshold_is_reported():
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    history = [
        vault.BackupRef("b", f"postgres/app/{i}.dump", now, 1000, None, now) for i in range(5)
    ]
    kept = int(1000 * (1 - verify_backups.SIZE_DROP_THRESHOLD))
    ok = verify_backups.check_size(vault.BackupRef("b", "k", now, kept, None, now), history)
    dropped = verify_backups.check_size(
        vault.BackupRef("b", "k", now, kept - 1, None, now), history
    )
    assert ok.ok, ok
    assert not dropped.ok and "dropped more than 50%" in dropped.detail, dropped


def test_empty_database_backs_up_restores_and_verifies(
    moto: Moto, postgres: PgServer, source: Source, make_vault, work, monkeypatch, capsys
):
    """A fresh database with zero tables: the nightly job must succeed from day one."""
    if "fresh" not in postgres.databases():
        postgres.psql(f'CREATE DATABASE fresh OWNER "{source.username}";')
    vault_ = make_vault()
    result = backup.run_backup(backup_config(source, postgres, vault_, moto, db_name="fresh"))
    assert result.key.startswith("postgres/fresh/"), result
    databases = postgres.databases()
    argv = drill_argv(moto, postgres, source, vault_.bucket, work)
    argv[argv.index("app")] = "fresh"
    code = restore_drill.main(argv)
    out = capsys.readouterr().out
    assert code == 0 and "0 tables, 0 rows restored" in out, out
    assert_nothing_left(work, postgres, databases)
    argv = verify_argv(moto, verify_backups_instance(moto), vault_.bucket, work)
    argv[argv.index("app")] = "fresh"
    code = verify_backups.main(argv)
    out = capsys.readouterr().out
    assert "PASS backup.archive" in out and "archive of fresh, 0 tables" in out, out
    assert fail_lines(out) == [], out


def test_table_count_leaves_out_partition_attachments(postgres: PgServer, source: Source, tmp_path):
    from ops import pg

    if "parts" not in postgres.databases():
        postgres.psql(f'CREATE DATABASE parts OWNER "{source.username}";')
        postgres.psql(
            "CREATE TABLE m (a int) PARTITION BY RANGE (a);"
            "CREATE TABLE m1 PARTITION OF m FOR VALUES FROM (0) TO (10);",
            db="parts",
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PGHOST=postgres.host, PGPORT=str(postgres.port), PGUSER="postgres",
               PGPASSWORD=postgres_password(), PGDATABASE="parts")  # fmt: skip
    dump = tmp_path / "parts.dump"
    subprocess.run([f"{postgres.bin_dir}/pg_dump", "-Fc", f"--file={dump}"], check=True, env=env)
    toc = pg.list_toc(pg.PgTools(postgres.bin_dir), dump)
    assert any(e.text.startswith("TABLE ATTACH") for e in toc.entries), toc.entries
    assert toc.tables == 2, [e.text for e in toc.entries]


def postgres_password() -> str:
    from backup_testkit import SUPERUSER_PASSWORD

    return SUPERUSER_PASSWORD


# --- 4. signals, temp files, stalls -------------------------------------------------------


def run_tool(
    module: str, argv: list[str], env: dict[str, str] | None = None, **kwargs
) -> subprocess.Popen:
    """`python -m module argv` in a child process (with the tests' short kill grace)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return subprocess.Popen(
        [sys.executable, "-c", SHORT_GRACE_RUNNER, module, *argv],
        cwd=REPO,
        env=clean | (env or {}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


TOOL_MAINS = {
    "ops.backup": backup.main,
    "ops.restore_drill": restore_drill.main,
    "ops.verify_backups": verify_backups.main,
}


def interrupt(
    how: str,
    module: str,
    argv: list[str],
    ready: Callable[[], bool],
    signame: str = "SIGTERM",
    env: dict[str, str] | None = None,
    *,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str, str]:
    """Run a tool and send it `signame` once `ready()` holds (an event the test controls, not
    a duration): its exit code, stdout and stderr.

    how="process": `python -m module` in a child process, as an operator or CodeBuild runs
    it. how="in-process": the tool's main() in this test's main thread, the signal sent to
    that thread (where the kernel delivers a signal sent to a process): the same handler and
    clean-up, without an interpreter start-up. Each tool and each signal keeps a real-process
    case; the in-process ones cover the other places a signal can land."""
    if how == "process":
        return _interrupt_process(module, argv, ready, signame, env)
    assert how == "in-process" and threading.current_thread() is threading.main_thread()
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(runctl, "KILL_GRACE_SECONDS", KILL_GRACE)
    sig, stray = getattr(signal, signame), []
    # A signal the tool's own handler does not take (none installed, or sent after it
    # returned) must fail the test, not end pytest.
    previous = signal.signal(sig, lambda *_: stray.append(signame))
    finished, target = threading.Event(), threading.get_ident()

    def send() -> None:
        while not finished.wait(0.02):
            if ready():
                signal.pthread_kill(target, sig)
                return

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        code = TOOL_MAINS[module](argv)
    finally:
        finished.set()
        sender.join()
        signal.signal(sig, previous)
    out, err = capsys.readouterr()
    assert not stray, f"{signame} missed the tool's handler (it returned {code}):\n{out}"
    return code, out, err


def _interrupt_process(
    module: str, argv: list[str], ready: Callable[[], bool], signame: str, env
) -> tuple[int, str, str]:
    process = run_tool(module, argv, env)
    stop = threading.Event()
    guard = threading.Timer(HANG_GUARD_S, stop.set)  # only a hang ends the wait otherwise
    guard.start()
    try:
        while not ready():
            if process.poll() is not None:
                pytest.fail(f"the tool ended early: {process.communicate()}")
            if stop.wait(0.02):
                pytest.fail(f"hang: the tool never reached the point to signal in {module}")
    finally:
        guard.cancel()
    process.send_signal(getattr(signal, signame))
    # A guard against a hang, not a speed assertion: botocore's read timeout is 60 s, so a
    # signal that is swallowed shows up as a run that outlives it.
    out, err = process.communicate(timeout=HANG_GUARD_S)
    return process.returncode, out, err


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


@pytest.mark.parametrize(("signame", "how"), [("SIGINT", "process"), ("SIGTERM", "in-process")])
def test_signal_mid_restore_stops_drops_and_removes(
    signame: str,
    how: str,
    moto: Moto,
    postgres: PgServer,
    source: Source,
    good_vault,
    work,
    tmp_path,
    monkeypatch,
    capsys,
):
    """pg_restore has restored the data and is still running when the signal comes: the
    child is stopped, the scratch database this run made is dropped, the download removed."""
    vault_, _key = good_vault
    marker = tmp_path / "restoring"
    bin_dir = fake_bin(
        tmp_path,
        postgres.bin_dir,
        pg_restore=(
            'case "$*" in *--dbname=*) "$REAL" "$@" || exit $?; '
            f"echo $$ > {marker}.tmp; mv {marker}.tmp {marker}; exec sleep 3600;; "
            '*) exec "$REAL" "$@";; esac'
        ),
    )
    databases, state, before = (
        postgres.databases(),
        vault_state(moto, vault_),
        fingerprint(postgres),
    )
    argv = drill_argv(moto, postgres, source, vault_.bucket, work, "--scratch-db", "drill_sig")
    argv[argv.index("--pg-bin-dir") + 1] = bin_dir
    seen: list[str] = []

    def restoring() -> bool:
        if not marker.exists():
            return False
        seen.extend(postgres.databases())  # before the signal: the restore made its database
        return True

    code, out, err = interrupt(
        how, "ops.restore_drill", argv, restoring, signame, monkeypatch=monkeypatch, capsys=capsys
    )
    assert "drill_sig" in seen, f"the restore had not created its database ({signame}, {how})"
    child = int(marker.read_text())
    assert code == 1, (signame, how, out, err)
    single_fail(out, f"interrupted by {signame}", "during restore")
    assert "PASS cleanup        dropped drill_sig" in out, out
    assert "Traceback" not in err, err
    assert not alive(child), f"pg_restore (pid {child}) still running ({signame}, {how})"
    assert_nothing_left(work, postgres, databases)
    assert vault_state(moto, vault_) == state and fingerprint(postgres) == before


def test_sigterm_while_the_drill_waits_for_s3_reports_and_cleans_up(
    moto: Moto, postgres: PgServer, source: Source, good_vault, work, monkeypatch, capsys
):
    """S3 never answers the drill's download (the proxy holds the GET): SIGTERM ends the
    drill with one FAIL line and nothing left, instead of botocore retrying the request.
    In-process: the drill's real-process signal case is the one mid-restore."""
    vault_, key = good_vault
    host, port = moto.endpoint.removeprefix("http://").split(":")
    hold = f"GET /{vault_.bucket}/{key}".encode()
    proxy = StallingProxy((host, int(port)), limit=10**12, hold_request=hold)
    try:
        databases, state = postgres.databases(), vault_state(moto, vault_)
        argv = drill_argv(moto, postgres, source, vault_.bucket, work)
        argv[argv.index("--endpoint-url") + 1] = f"http://127.0.0.1:{proxy.port}"
        code, out, err = interrupt(
            "in-process", "ops.restore_drill", argv, proxy.stalled.is_set,
            monkeypatch=monkeypatch, capsys=capsys,
        )  # fmt: skip
        assert proxy.stalled.is_set(), "the download never reached S3"
        assert code == 1, (out, err)
        single_fail(out, "interrupted by SIGTERM", "during checksum")
        assert "Traceback" not in err, err
        assert_nothing_left(work, postgres, databases)
        assert vault_state(moto, vault_) == state
    finally:
        proxy.close()


def idle_counts_only_after(event: threading.Event, monkeypatch: pytest.MonkeyPatch) -> None:
    """Until `event` (the proxy stalled), every watchdog poll sees progress; from then on the
    watchdog's own measure (the child's I/O) decides. So a slow but moving child on a loaded
    machine is never taken for a stalled one, the stall timeout can be short, and it is still
    that timeout, counted from the stall the test made, that ends the run."""
    real, ticks = runctl._Watchdog.progress, itertools.count()

    def progress(self: runctl._Watchdog) -> int:
        return real(self) if event.is_set() else -1 - next(ticks)

    monkeypatch.setattr(runctl._Watchdog, "progress", progress)


def test_stalled_database_during_restore_fails_in_bounded_time(
    moto: Moto, postgres: PgServer, source: Source, good_vault, work, monkeypatch, capsys
):
    """The restore's connection stops moving (the proxy holds it open, like a SIGSTOPped
    server): the watchdog stops pg_restore and the scratch database is dropped."""
    vault_, _key = good_vault
    monkeypatch.setattr(runctl, "KILL_GRACE_SECONDS", KILL_GRACE)
    proxy = StallingProxy((postgres.host, postgres.port), limit=40_000)
    idle_counts_only_after(proxy.stalled, monkeypatch)
    try:
        databases, state = postgres.databases(), vault_state(moto, vault_)
        argv = drill_argv(
            moto, postgres, source, vault_.bucket, work, "--scratch-db", "drill_stall"
        )
        argv[argv.index("--target-port") + 1] = str(proxy.port)
        argv[argv.index("--stall-timeout-seconds") + 1] = STALL
        code = restore_drill.main(argv)
        out = capsys.readouterr().out
        assert proxy.stalled.is_set(), "the proxy never stalled: the test proved nothing"
        assert code == 1, out
        single_fail(out, "at restore", f"pg_restore made no progress for {STALL}s")
        assert "dropped drill_stall" in out, out
        assert_nothing_left(work, postgres, databases)
        assert vault_state(moto, vault_) == state
    finally:
        proxy.close()


def test_stalled_database_during_backup_fails_and_uploads_nothing(
    moto: Moto, postgres: PgServer, source: Source, make_vault, work, monkeypatch
):
    vault_ = make_vault()
    monkeypatch.setattr(runctl, "KILL_GRACE_SECONDS", KILL_GRACE)
    proxy = StallingProxy((postgres.host, postgres.port), limit=20_000)
    idle_counts_only_after(proxy.stalled, monkeypatch)
    try:
        config = backup_config(
            source, postgres, vault_, moto, port=proxy.port, work_dir=str(work),
            stall_seconds=float(STALL),
        )  # fmt: skip
        with pytest.raises(OpsError, match=rf"pg_dump made no progress for {STALL}s"):
            backup.run_backup(config)
        assert proxy.stalled.is_set(), "the proxy never stalled: the test proved nothing"
        assert vault_state(moto, vault_) == [], "a stalled dump was uploaded"
        assert list(work.iterdir()) == [], "the partial dump was left behind"
    finally:
        proxy.close()


def test_sigterm_during_a_stalled_backup_reports_and_cleans_up(
    moto: Moto, postgres: PgServer, source: Source, make_vault, work, monkeypatch, capsys
):
    """In-process: the job's real-process signal case is the one while the upload waits."""
    vault_ = make_vault()
    proxy = StallingProxy((postgres.host, postgres.port), limit=20_000)
    try:
        from backup_testkit import backup_env

        env = backup_env(source, postgres, vault_, moto) | {
            "DB_PORT": str(proxy.port), "BACKUP_WORK_DIR": str(work),
        }  # fmt: skip
        code, out, err = interrupt(
            "in-process", "ops.backup", [], proxy.stalled.is_set, env=env,
            monkeypatch=monkeypatch, capsys=capsys,
        )  # fmt: skip
        assert proxy.stalled.is_set(), "the dump never reached the stall"
        assert code == 1, (out, err)
        single_fail(out, "FAIL backup of app: interrupted by SIGTERM", "stopped pg_dump")
        assert "Traceback" not in err, err
        assert vault_state(moto, vault_) == [] and list(work.iterdir()) == []
        leftovers = [
            p for p in Path("/proc").glob("[0-9]*/cmdline")
            if str(work) in p.read_bytes().decode(errors="replace")
        ]  # fmt: skip
        assert leftovers == [], f"pg_dump still running: {leftovers}"
    finally:
        proxy.close()


def test_sigterm_while_the_upload_waits_for_s3_reports_and_uploads_nothing(
    moto: Moto, postgres: PgServer, source: Source, make_vault, work, monkeypatch, capsys
):
    """S3 never answers the backup's PUT (the proxy holds the request): SIGTERM ends the job
    with one FAIL line, instead of botocore retrying the upload into the same held path."""
    vault_ = make_vault()
    host, port = moto.endpoint.removeprefix("http://").split(":")
    hold = f"PUT /{vault_.bucket}/postgres/{source.db_name}/".encode()
    proxy = StallingProxy((host, int(port)), limit=10**12, hold_request=hold)
    try:
        from backup_testkit import backup_env

        env = backup_env(source, postgres, vault_, moto) | {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}", "BACKUP_WORK_DIR": str(work),
        }  # fmt: skip
        code, out, err = interrupt(
            "process", "ops.backup", [], proxy.stalled.is_set, env=env,
            monkeypatch=monkeypatch, capsys=capsys,
        )  # fmt: skip
        assert code == 1, (out, err)
        single_fail(out, "FAIL backup of app: interrupted by SIGTERM", "removed the local dump")
        assert "Traceback" not in err, err
        assert vault_state(moto, vault_) == [] and list(work.iterdir()) == []
    finally:
        proxy.close()


# --- 5. every fault is one FAIL line --------------------------------------------------------


def test_disk_full_in_the_work_dir_mid_download(
    moto: Moto, postgres: PgServer, source: Source, good_vault, work, monkeypatch, capsys
):
    """ENOSPC after 20 kB of the download, injected at os.write for files in the work dir
    (the tool writes its download there with os.write; the test's own files are untouched)."""
    vault_, _key = good_vault
    databases, state = postgres.databases(), vault_state(moto, vault_)
    real_write, written, refused = os.write, [0], threading.Event()

    def full_disk(fd: int, data) -> int:
        if os.readlink(f"/proc/self/fd/{fd}").startswith(f"{work}/"):
            if written[0] + len(data) > 20000:
                refused.set()
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            written[0] += len(data)
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_disk)
    code = restore_drill.main(drill_argv(moto, postgres, source, vault_.bucket, work))
    monkeypatch.undo()
    out, err = capsys.readouterr()
    assert refused.is_set(), "no write to the work dir was refused: the test proved nothing"
    assert code == 1, out
    single_fail(out, "at checksum", "No space left on device", str(work))
    assert "Traceback" not in err, err
    assert_nothing_left(work, postgres, databases)
    assert vault_state(moto, vault_) == state


def test_work_dir_without_room_fails_before_download(
    moto: Moto, postgres: PgServer, source: Source, good_vault, work, monkeypatch, capsys
):
    vault_, _key = good_vault
    monkeypatch.setattr(restore_drill.runctl, "free_bytes", lambda _path: 1000)
    databases = postgres.databases()
    code = restore_drill.main(drill_argv(moto, postgres, source, vault_.bucket, work))
    out = capsys.readouterr().out
    assert code == 1, out
    single_fail(out, "at preflight", f"work directory {work} has 1000 bytes free")
    assert "checksum" not in out, "downloaded despite no room"
    assert_nothing_left(work, postgres, databases)


def test_bad_work_dir_is_one_fail_line(
    moto: Moto, postgres: PgServer, source: Source, good_vault, make_vault, tmp_path, capsys
):
    vault_, _key = good_vault
    missing = tmp_path / "nowhere"
    code = restore_drill.main(drill_argv(moto, postgres, source, vault_.bucket, missing))
    out = capsys.readouterr().out
    assert code == 1, out
    single_fail(out, f"--work-dir {missing} does not exist")
    empty = make_vault()
    with pytest.raises(OpsError, match=f"--work-dir {missing} does not exist"):
        backup.run_backup(backup_config(source, postgres, empty, moto, work_dir=str(missing)))
    assert vault_state(moto, empty) == []


def test_preflight_names_what_to_fix(
    moto: Moto, postgres: PgServer, source: Source, good_vault, work, monkeypatch, capsys
):
    """Login refused, no CREATEDB, and a too-small RDS target: each one FAIL line before any
    download."""
    vault_, _key = good_vault
    databases = postgres.databases()
    if "nocreate" not in postgres.psql("SELECT rolname FROM pg_roles;").split():
        postgres.psql("CREATE ROLE nocreate LOGIN PASSWORD 'pw-nocreate';")
    monkeypatch.setenv("NOCREATE_PW", "pw-nocreate")
    base = drill_argv(moto, postgres, source, vault_.bucket, work)
    at = base.index("--target-secret-arn")
    plain = base[:at] + base[at + 2 :]
    cases = [
        ([*plain, "--target-user", "nocreate", "--target-password-env", "NOCREATE_PW"],
         ["lacks CREATEDB", "ALTER ROLE nocreate CREATEDB"]),
        ([*plain, "--target-user", "nobody_here", "--target-password-env", "NOCREATE_PW"],
         ["does not accept the login", "nobody_here"]),
    ]  # fmt: skip
    cloudwatch = moto.client("cloudwatch")
    cloudwatch.put_metric_data(
        Namespace="AWS/RDS",
        MetricData=[{
            "MetricName": "FreeStorageSpace", "Value": 1000.0, "Unit": "Bytes",
            "Timestamp": datetime.now(UTC) - timedelta(minutes=5),
            "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "scratch-db"}],
        }],
    )  # fmt: skip
    cases.append(([*base, "--target-db-instance-id", "scratch-db"],
                  ["target scratch-db has 1000 bytes free (FreeStorageSpace)"]))  # fmt: skip
    for argv, phrases in cases:
        code = restore_drill.main(argv)
        out = capsys.readouterr().out
        assert code == 1, out
        single_fail(out, "at preflight", *phrases)
        assert "checksum" not in out, f"downloaded before the preflight failed:\n{out}"
    assert_nothing_left(work, postgres, databases)


def test_too_old_pg_restore_names_the_recorded_version(
    moto: Moto, postgres: PgServer, source: Source, make_vault, reference_dump, work, capsys
):
    vault_ = make_vault()
    key = f"postgres/app/{stamp(datetime.now(UTC))}.dump"
    put_backup(moto, vault_, key, reference_dump, **{"pg-dump-version": "99.1"})
    databases = postgres.databases()
    code = restore_drill.main(drill_argv(moto, postgres, source, vault_.bucket, work))
    out = capsys.readouterr().out
    assert code == 1, out
    single_fail(out, "is older than pg_dump 99.1", "pg-dump-version", "install pg_restore 99")
    assert_nothing_left(work, postgres, databases)


def test_bad_version_id_is_named(
    moto: Moto, postgres: PgServer, source: Source, good_vault, work, capsys
):
    vault_, key = good_vault
    argv = drill_argv(
        moto, postgres, source, vault_.bucket, work, "--key", key, "--version-id", "v-nope"
    )
    code = restore_drill.main(argv)
    out = capsys.readouterr().out
    assert code == 1, out
    single_fail(out, "version v-nope")


def test_pg_restore_crash_is_named_not_no_output(
    moto: Moto, postgres: PgServer, source: Source, good_vault, work, tmp_path, capsys
):
    vault_, _key = good_vault
    bin_dir = fake_bin(
        tmp_path, postgres.bin_dir,
        pg_restore='case "$*" in *--version*) exec "$REAL" "$@";; esac; kill -SEGV $$',
    )  # fmt: skip
    databases = postgres.databases()
    argv = drill_argv(moto, postgres, source, vault_.bucket, work)
    argv[argv.index("--pg-bin-dir") + 1] = bin_dir
    code = restore_drill.main(argv)
    out = capsys.readouterr().out
    assert code == 1, out
    single_fail(out, "pg_restore crashed (killed by SIGSEGV)")
    assert "(no output)" not in out, out
    assert_nothing_left(work, postgres, databases)


def test_restore_target_disk_full_drops_the_scratch_database(
    moto: Moto, postgres: PgServer, source: Source, good_vault, work, tmp_path, capsys
):
    """The server runs out of disk part-way (pg_restore's own error text): the FAIL line
    says so and the half-restored scratch database is dropped."""
    vault_, _key = good_vault
    error = (
        "pg_restore: error: could not execute query: ERROR:  could not extend file "
        '"base/16384/16440": No space left on device'
    )
    bin_dir = fake_bin(
        tmp_path, postgres.bin_dir,
        pg_restore=(
            'case "$*" in *--dbname=*) "$REAL" "$@"; '
            f"echo '{error}' >&2; exit 1;; *) exec \"$REAL\" \"$@\";; esac"
        ),
    )  # fmt: skip
    databases = postgres.databases()
    argv = drill_argv(moto, postgres, source, vault_.bucket, work, "--jobs", "2")
    argv[argv.index("--pg-bin-dir") + 1] = bin_dir
    code = restore_drill.main(argv)
    out = capsys.readouterr().out
    assert code == 1, out
    single_fail(out, "at restore", "No space left on device")
    assert "PASS cleanup        dropped restore_drill_" in out, out
    assert_nothing_left(work, postgres, databases)


def test_server_version_mismatch_names_both_versions(
    moto: Moto, postgres: PgServer, source: Source, make_vault, tmp_path
):
    """pg_dump's own refusal (its `detail:` line carries both versions) reaches the FAIL line."""
    bin_dir = fake_bin(
        tmp_path, postgres.bin_dir,
        pg_dump=(
            'case "$*" in *--version*) exec "$REAL" "$@";; esac\n'
            "echo 'pg_dump: error: aborting because of server version mismatch' >&2\n"
            "echo 'pg_dump: detail: server version: 19.1; pg_dump version: 18.6' >&2\n"
            "exit 1"
        ),
    )  # fmt: skip
    vault_ = make_vault()
    with pytest.raises(OpsError) as err:
        backup.run_backup(backup_config(source, postgres, vault_, moto, pg_bin_dir=bin_dir))
    assert "server version: 19.1; pg_dump version: 18.6" in str(err.value), err.value
    assert vault_state(moto, vault_) == []


def test_lock_is_checked_before_the_dump(
    moto: Moto, postgres: PgServer, source: Source, make_vault, tmp_path
):
    marker = tmp_path / "dumped"
    bin_dir = fake_bin(
        tmp_path, postgres.bin_dir,
        pg_dump=f'case "$*" in *--version*) ;; *) touch {marker};; esac; exec "$REAL" "$@"',
    )  # fmt: skip
    vault_ = make_vault(lock=False)
    with pytest.raises(OpsError, match=r"no default object-lock retention.*nothing was dumped"):
        backup.run_backup(backup_config(source, postgres, vault_, moto, pg_bin_dir=bin_dir))
    assert not marker.exists(), "pg_dump ran before the lock was checked"
    assert vault_state(moto, vault_) == []


def test_parallel_restore_round_trip(
    moto: Moto, postgres: PgServer, source: Source, good_vault, work, capsys
):
    vault_, _key = good_vault
    databases = postgres.databases()
    code = restore_drill.main(
        drill_argv(moto, postgres, source, vault_.bucket, work, "--jobs", "2")
    )
    out = capsys.readouterr().out
    assert code == 0 and "with 2 jobs" in out and "6 tables, 3703 rows" in out, out
    assert_nothing_left(work, postgres, databases)


def test_cut_download_resumes_by_byte_range(
    moto: Moto, postgres: PgServer, source: Source, good_vault, work, capsys
):
    """The connection carrying the backup drops part-way: the download continues from the
    byte it had (Range, pinned by version and ETag) and the checksum covers the whole."""
    vault_, _key = good_vault
    host, port = moto.endpoint.removeprefix("http://").split(":")
    proxy = StallingProxy((host, int(port)), limit=30_000, cut_once=True)
    try:
        databases = postgres.databases()
        argv = drill_argv(moto, postgres, source, vault_.bucket, work)
        argv[argv.index("--endpoint-url") + 1] = f"http://127.0.0.1:{proxy.port}"
        code = restore_drill.main(argv)
        out = capsys.readouterr().out
        assert proxy.cut.is_set(), "the proxy never cut the transfer: the test proved nothing"
        assert code == 0, out
        assert "resumed 1x by byte range" in out, out
        assert_nothing_left(work, postgres, databases)
    finally:
        proxy.close()


def test_disk_full_during_the_dump_fails_and_uploads_nothing(
    moto: Moto, postgres: PgServer, source: Source, make_vault, work, tmp_path, monkeypatch, capsys
):
    """pg_dump stops with its own ENOSPC error after writing part of the file."""
    bin_dir = fake_bin(
        tmp_path, postgres.bin_dir,
        pg_dump=(
            'case "$*" in *--version*) exec "$REAL" "$@";; esac\n'
            'out=$(printf "%s\\n" "$@" | sed -n "s/^--file=//p")\n'
            'head -c 4096 /dev/zero > "$out"\n'
            "echo 'pg_dump: error: could not write to output file: No space left on device' >&2\n"
            "exit 1"
        ),
    )  # fmt: skip
    from backup_testkit import backup_env

    vault_ = make_vault()
    env = backup_env(source, postgres, vault_, moto) | {
        "PG_BIN_DIR": bin_dir, "BACKUP_WORK_DIR": str(work),
    }  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = backup.main([])
    out = capsys.readouterr().out
    assert code == 1, out
    single_fail(out, "FAIL backup of app: pg_dump exited 1", "No space left on device")
    assert vault_state(moto, vault_) == [] and list(work.iterdir()) == []


@pytest.mark.parametrize(
    ("stall", "how"), [("mid-body", "process"), ("before-headers", "in-process")]
)
def test_sigterm_during_verify_download_reports_and_removes_it(
    moto: Moto, good_vault, work, tmp_path, stall, how, monkeypatch, capsys
):
    """S3 stops answering during the download (the proxy holds the connection), either
    mid-body or before the response's headers: SIGTERM then ends verify_backups with one
    FAIL line and no partial download left. Before the headers, the signal lands inside
    botocore's send, which wraps any Exception as a retryable HTTPClientError; the
    signal must get through that, not be retried into another held request."""
    vault_, key = good_vault
    instance = verify_backups_instance(moto)
    host, port = moto.endpoint.removeprefix("http://").split(":")
    hold = f"GET /{vault_.bucket}/{key}".encode() if stall == "before-headers" else None
    proxy = StallingProxy((host, int(port)), limit=30_000, hold_request=hold)
    try:
        argv = verify_argv(moto, instance, vault_.bucket, work)
        argv[argv.index("--endpoint-url") + 1] = f"http://127.0.0.1:{proxy.port}"
        code, out, err = interrupt(
            how, "ops.verify_backups", argv, proxy.stalled.is_set,
            monkeypatch=monkeypatch, capsys=capsys,
        )  # fmt: skip
        assert proxy.stalled.is_set(), f"the download never reached the stall ({stall})"
        assert code == 1, (stall, how, out, err)
        single_fail(out, "FAIL verify_backups: interrupted by SIGTERM", "removed the download")
        assert "Traceback" not in err, err
        assert list(work.iterdir()) == [], "partial download left behind"
    finally:
        proxy.close()


def test_older_target_server_than_the_dump_is_warned_about(
    moto: Moto, postgres: PgServer, source: Source, make_vault, reference_dump, work, capsys
):
    vault_ = make_vault()
    key = f"postgres/app/{stamp(datetime.now(UTC))}.dump"
    put_backup(moto, vault_, key, reference_dump, **{"server-version": "99.2"})
    databases = postgres.databases()
    code = restore_drill.main(drill_argv(moto, postgres, source, vault_.bucket, work))
    out = capsys.readouterr().out
    assert code == 0, out
    warn = [line for line in out.splitlines() if line.startswith("WARN")]
    assert len(warn) == 1 and "dumped from 99.2" in warn[0], out
    assert_nothing_left(work, postgres, databases)
