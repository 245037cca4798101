"""Cue output: the terminal bell and, when the person set one up, a voice.

A listener on the session. Timing stays in the engine (it emits ``cue`` events
at their offsets, including the final-seconds count with a ``count`` field);
this only turns events into sound.

The voice command comes from the person's settings and never from a routine
file; it runs with ``create_subprocess_exec`` (no shell), the text as its last
argument. Speaking never blocks the session: a new utterance cuts the previous
one short, which is what a countdown needs; texts due at the same moment (a
segment's title and its first cue) are joined into one utterance. A program that is missing or fails
is reported once and the session goes on with the bell.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Sequence
from typing import TextIO

from tproutine.engine.events import Event
from tproutine.routine.timeline import KIND_LABELS

log = logging.getLogger(__name__)


def spoken_title(event: Event) -> str:
    """What to say when a segment starts: its title, and the side."""
    title = str(event.get("title") or KIND_LABELS.get(str(event.get("kind")), ""))
    side = event.get("side")
    return f"{title}, {side} side" if side else title


def terminal_bell(stream: TextIO) -> Callable[[], None]:
    """A bell that writes BEL to ``stream`` (a terminal) and flushes."""

    def ring() -> None:
        try:
            stream.write("\a")
            stream.flush()
        except (OSError, ValueError):
            # A closed or broken terminal: a missing beep is no reason to stop.
            pass

    return ring


def _join(first: str, then: str) -> str:
    first = first.rstrip()
    return f"{first} {then}" if first.endswith((".", "!", "?", ":")) else f"{first}. {then}"


class CueOutput:
    """Rings ``bell`` for every cue and speaks cues and segment titles with ``voice``.

    ``voice`` is an argv (``["espeak-ng", "-s", "150"]``); None means no voice.
    ``report`` receives one human-readable line about a voice problem, once.
    """

    def __init__(
        self,
        *,
        bell: Callable[[], None] | None = None,
        voice: Sequence[str] | None = None,
        speak_titles: bool = True,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self._bell = bell
        self._voice = list(voice) if voice else None
        self._speak_titles = speak_titles
        self._report = report or (lambda line: log.warning("%s", line))
        self._reported = False
        self._pending: str | None = None
        self._wanted: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._starting = False  # between taking a text and its program running
        self._watchers: set[asyncio.Task[None]] = set()
        self.spoken: list[str] = []  # what was handed to the voice program, in order

    @property
    def voice(self) -> list[str] | None:
        """The voice command in use (None when off or given up on)."""
        return self._voice

    def __call__(self, event: Event) -> None:
        name = event.event
        if name == "cue":
            if self._bell is not None:
                self._bell()
            self.say(str(event.get("say", "")))
        elif name == "segment_start" and self._speak_titles:
            self.say(spoken_title(event))
        elif name == "session_end" and event.get("status") == "completed":
            self.say("Routine complete.")
        elif name == "device" and event.get("warning"):
            # The device may run on out of reach (a lost link): said at once, bell too.
            if self._bell is not None:
                self._bell()
            self.say(str(event["warning"]))

    def say(self, text: str) -> None:
        """Speak ``text`` (cutting off whatever is being said); nothing without a voice."""
        if self._voice is None or not text.strip():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop (a synchronous caller): there is no one to run the program
        # Texts that arrive together (a title and the cue at 0 s) are said together;
        # only one that is already being spoken gets cut.
        self._pending = text if self._pending is None else _join(self._pending, text)
        if self._wanted is None:
            self._wanted = asyncio.Event()
        self._wanted.set()
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._speak_loop())

    async def _speak_loop(self) -> None:
        # One worker takes the newest text each time, so utterances never overlap
        # or start out of order however fast cues come.
        assert self._wanted is not None
        while self._voice is not None:
            await self._wanted.wait()
            self._wanted.clear()
            text, self._pending = self._pending, None
            if text is None:
                continue
            self._starting = True
            await self._cut()
            argv = [*self._voice, text]
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                )
            except OSError as exc:
                self._give_up(f"cannot run the voice program {self._voice[0]!r}", exc)
                return
            finally:
                self._starting = False
            self.spoken.append(text)
            self._proc = proc
            watcher = asyncio.get_running_loop().create_task(self._watch(proc))
            self._watchers.add(watcher)
            watcher.add_done_callback(self._watchers.discard)

    async def _watch(self, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        # Negative: ended by our own signal when cut off. Positive: it failed by itself.
        if code > 0 and self._voice is not None:
            self._give_up(f"the voice program {self._voice[0]!r} failed (exit status {code})", None)

    def _give_up(self, what: str, exc: OSError | None) -> None:
        why = f": {exc.strerror or exc}" if exc is not None else ""
        self._voice = None
        if not self._reported:
            self._reported = True
            self._report(f"{what}{why}; cues go on without a voice")

    async def _drain(self) -> None:
        # Let the worker pick up a waiting text, then wait for the program to end.
        # A short poll, only at shutdown and for at most ``grace`` seconds.
        while (self._pending is not None or self._starting) and self._voice is not None:
            await asyncio.sleep(0.01)
        proc = self._proc
        if proc is not None:
            await proc.wait()

    async def _cut(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        _signal(proc, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 1.0)
        except asyncio.TimeoutError:
            _signal(proc, getattr(signal, "SIGKILL", signal.SIGTERM))
            await proc.wait()

    async def aclose(self, grace: float = 0.0) -> None:
        """Stop speaking and wait for the voice program to be gone.

        ``grace``: seconds to let the utterance in progress (and one waiting to
        start, such as "Routine complete.") finish before cutting it short.
        """
        worker, self._worker = self._worker, None
        if grace > 0 and worker is not None and not worker.done():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._drain(), grace)
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        await self._cut()
        for watcher in list(self._watchers):
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


def _signal(proc: asyncio.subprocess.Process, signum: int) -> None:
    """Signal the voice program without reaping it.

    ``Process.terminate`` polls the child first (``Popen.send_signal``), and a child
    that has just ended is then reaped there, behind the back of asyncio's child
    watcher, which reports it as "exit status 255": the voice would be given up for
    a program that worked. ``os.kill`` only signals; the watcher reaps as usual.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(proc.pid, signum)
