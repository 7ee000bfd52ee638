"""azcompile.files: the one stat check of a user's file, and error messages on one line."""
import os
import zipfile
from pathlib import Path

import pytest

from azcompile.files import DIRECTORY, NotRegularFile, one_line, read_text_file, regular_file_size


class Refused(Exception):
    pass


def test_one_line_flattens_what_a_library_wrote_on_several_lines():
    assert one_line(ValueError("bad header:\n  shape (3,\n 4)")) == "bad header: shape (3, 4)"
    assert one_line("a message\nwith a newline") == "a message with a newline"


def test_an_empty_message_is_named_by_its_exception():
    assert one_line(EOFError()) == "EOFError"
    assert one_line("  \n") == "unknown error"
    assert one_line(EOFError(), named=True) == "EOFError: no details"
    assert one_line(zipfile.BadZipFile("File is\nnot a zip file"), named=True) == \
        "BadZipFile: File is not a zip file"


def test_the_size_of_a_regular_file(tmp_path):
    (tmp_path / "f").write_bytes(b"12345")
    assert regular_file_size(tmp_path / "f") == 5


def test_a_missing_path_and_a_path_through_a_file_are_not_found(tmp_path):
    (tmp_path / "f").write_bytes(b"")
    for path in (tmp_path / "nope", tmp_path / "f" / "below"):
        with pytest.raises(FileNotFoundError):
            regular_file_size(path)


@pytest.mark.parametrize("make, kind", [
    (lambda path: path.mkdir(), DIRECTORY),
    (os.mkfifo, "a named pipe (FIFO)"),
])
def test_what_a_path_is_instead_of_a_regular_file(tmp_path, make, kind):
    path = tmp_path / "x"
    make(path)
    with pytest.raises(NotRegularFile) as err:
        regular_file_size(path)
    assert err.value.kind == kind


def test_a_character_device_is_not_a_regular_file():
    with pytest.raises(NotRegularFile) as err:
        regular_file_size(Path("/dev/null"))
    assert err.value.kind == "a character device"


@pytest.mark.parametrize("make, message", [
    (lambda path: None, "{path}: no such config file"),
    (lambda path: path.mkdir(), "{path}: a directory; give a file"),
    (os.mkfifo, "{path}: not a regular file; give a file"),
    (lambda path: path.write_bytes(b"x" * (2 << 20)),
     "{path}: more than the 1 MiB a config file may have; this is not a config file"),
])
def test_read_text_file_says_what_the_path_is(tmp_path, make, message):
    path = tmp_path / "c.toml"
    make(path)
    with pytest.raises(Refused) as err:
        read_text_file(path, kind="config file", limit=1 << 20, error=Refused,
                       expected="give a file")
    assert str(err.value) == message.format(path=path)
