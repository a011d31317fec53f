"""Clean-up after a failure or a signal is brief: an interrupted upload is aborted with a
client of its own, whose attempts are bounded, and nothing unfinished is left behind."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from backup_testkit import REGION, Moto
from botocore.config import Config

from ops import awsenv, runctl, vault


class SilentServer:
    """Accepts connections, reads what is sent and never answers, counting the requests."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.requests = 0
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.requests += 1
                self.open.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.open:
            conn.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def abort_attempts(server: SilentServer, timeouts: Config) -> int:
    """How many requests one abort sends to an S3 that never answers."""
    s3 = awsenv.client("s3", "eu-west-1", server.endpoint)
    vault.abort_upload(s3, "vault", "postgres/app/x.dump", "upload-1", timeouts=timeouts)
    return server.requests


def short(timeouts: Config) -> Config:
    """The same retry policy with a read timeout the test does not wait long for."""
    return timeouts.merge(Config(connect_timeout=1, read_timeout=0.2))


def test_an_abort_to_an_unresponsive_s3_gives_up_after_two_attempts(silent: SilentServer):
    attempts = abort_attempts(silent, short(awsenv.CLEANUP_TIMEOUTS))
    assert attempts == 2, (
        f"aborting against an unresponsive S3 sent {attempts} request(s); "
        "awsenv.CLEANUP_TIMEOUTS allows two"
    )


def test_the_attempt_count_follows_the_retry_policy(silent: SilentServer):
    """The count is measured, not assumed: three allowed attempts are three requests."""
    three = short(Config(retries={"total_max_attempts": 3, "mode": "standard"}))
    assert abort_attempts(silent, three) == 3


def test_cleanup_timeouts_are_short_beside_the_working_client() -> None:
    working = awsenv.client("s3", "eu-west-1", "http://127.0.0.1:9")
    cleanup = awsenv.cleanup_client(working)
    assert cleanup.meta.config.read_timeout < working.meta.config.read_timeout
    assert cleanup.meta.config.retries["total_max_attempts"] == 2
    assert cleanup.meta.endpoint_url == working.meta.endpoint_url
    assert cleanup.meta.region_name == working.meta.region_name


def test_an_interrupted_multipart_upload_leaves_nothing_unfinished(
    moto: Moto, make_vault, tmp_path: Path
):
    """A signal between parts aborts the upload (through the clean-up client) and propagates."""
    vault_ = make_vault()
    path = tmp_path / "big.dump"
    path.write_bytes(b"x" * (11 * 2**20))
    s3 = awsenv.client("s3", REGION, moto.endpoint)
    parts_sent = 0

    def interrupt_second_part(**_: object) -> None:
        nonlocal parts_sent
        parts_sent += 1
        if parts_sent == 2:
            raise runctl.Interrupted("SIGTERM")

    s3.meta.events.register("before-call.s3.UploadPart", interrupt_second_part)
    with pytest.raises(runctl.Interrupted):
        vault.upload_file(
            s3,
            path,
            vault_.bucket,
            "postgres/app/big.dump",
            sha256=b"\0" * 32,
            kms_key_id=vault_.kms_key_arn,
            metadata={},
            multipart_threshold=5 * 2**20,
            part_size=5 * 2**20,
        )
    left = moto.client("s3").list_multipart_uploads(Bucket=vault_.bucket).get("Uploads", [])
    assert left == [], f"unfinished uploads left in {vault_.bucket}: {left}"
