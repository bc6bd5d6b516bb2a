"""Finding 1: the broker touches only what it created in its data directory."""

from __future__ import annotations

import subprocess
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import broker_bin, roundtrip


def _foreign(data: Path) -> dict[Path, bytes]:
    """Folders a user keeps next to the data, named like partition directories."""
    files = {
        data / "backup-2024" / "db.dump": b"precious backup",
        data / "photos-1" / "cat.jpg": b"\xff\xd8 a cat",
        data / "bystander-7" / "notes.txt": b"same name as a topic, higher partition",
        data / "readme.txt": b"a file of the user's",
    }
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return files


def _assert_kept(files: dict[Path, bytes]) -> None:
    for path, content in files.items():
        assert path.is_file(), f"{path} was removed by the broker"
        assert path.read_bytes() == content, f"{path} was changed by the broker"


def _create(bootstrap: str, name: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(30)


def _delete(bootstrap: str, name: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.delete_topics([name])[name].result(30)


def test_foreign_folders_survive_restarts_create_and_delete(start_broker):
    b = start_broker()
    roundtrip(b.bootstrap)  # topic "bystander", one partition: bystander-0
    b.stop()
    files = _foreign(b.data_dir)

    b.restart()
    _assert_kept(files)
    roundtrip(b.bootstrap)
    # A topic whose partition directory would be the user's folder is refused; the folder stays.
    try:
        _create(b.bootstrap, "photos", 2)
        raise AssertionError("creating 'photos' over the user's photos-1/ succeeded")
    except KafkaException as e:
        assert "photos-1" in str(e), e
    _assert_kept(files)
    assert not (b.data_dir / "photos-0").exists(), "a refused create left photos-0 behind"
    # Creating and deleting a topic next to the foreign folders removes only its own directory.
    _create(b.bootstrap, "backup", 3)
    assert (b.data_dir / "backup-2" / "partition.metadata").is_file()
    _delete(b.bootstrap, "backup")
    _assert_kept(files)
    assert not (b.data_dir / "backup-0").exists()
    b.stop()

    b.restart()
    _assert_kept(files)
    roundtrip(b.bootstrap)
    b.stop()
    log = (b.workdir / "broker.log").read_text()
    assert "did not create" in log and "backup-2024" in log, "no warning about foreign entries"


def test_older_data_dir_is_adopted_without_loss(start_broker):
    """A data directory of an Odradek without ownership markers opens with its data; unknown
    partition-like folders in it are kept."""
    b = start_broker()
    roundtrip(b.bootstrap)
    roundtrip(b.bootstrap)
    b.stop()
    # The layout of older versions: no data-dir marker, no partition.metadata.
    (b.data_dir / "odradek-data-dir.properties").unlink()
    for marker in b.data_dir.glob("*/partition.metadata"):
        marker.unlink()
    files = _foreign(b.data_dir)

    b.restart()
    _assert_kept(files)
    assert (b.data_dir / "odradek-data-dir.properties").is_file(), "migration did not mark the directory"
    assert (b.data_dir / "bystander-0" / "partition.metadata").is_file(), "partition not adopted"
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "adopt", "enable.auto.commit": False})
    low, high = c.get_watermark_offsets(TopicPartition("bystander", 0), timeout=30)
    c.close()
    assert (low, high) == (0, 2), f"records lost in migration: watermarks {(low, high)}"
    b.stop()


def test_a_foreign_directory_is_refused_and_untouched(tmp_path):
    data = tmp_path / "home"
    files = _foreign(data)
    proc = subprocess.Popen([str(broker_bin()), "--listen", "127.0.0.1:0", "--data-dir", str(data)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    address = proc.stdout.readline().strip()  # the first line once listening; "" if it exits
    if address:
        proc.kill()
        proc.wait()
        raise AssertionError(f"the broker started on a foreign directory (listening on {address})")
    stderr = proc.stderr.read()
    assert proc.wait(timeout=60) != 0
    assert "not created by odradek-broker" in stderr, stderr
    _assert_kept(files)
    assert sorted(p.name for p in data.iterdir()) == ["backup-2024", "bystander-7", "photos-1", "readme.txt"]
