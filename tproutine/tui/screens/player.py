"""The Player: what to do now, for how long, and what comes next.

The screen keeps no time of its own. The session engine runs in a worker and
publishes events; a listener turns each one into a ``SessionEvent`` message,
and a modest refresh timer reads the session's views (``segment_remaining()``,
``breathe_phase()`` ...) so the digits and bars move between events. Keys send
commands to the session (pause, next, back, intensity, stop the motor, end).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Digits, Footer, Label, Static

from tproutine.engine.events import Event
from tproutine.routine.durations import format_duration
from tproutine.routine.timeline import KIND_LABELS, Segment, Timeline
from tproutine.safetext import one_line, visible
from tproutine.tui.messages import SessionEvent
from tproutine.tui.widgets.device_panel import DevicePanel
from tproutine.tui.widgets.meter import Meter
from tproutine.tui.widgets.reserved import Reserved, after_first_frame, put_in_place

if TYPE_CHECKING:
    from tproutine.runtime import Runtime
    from tproutine.tui.app import TProutineApp

T = TypeVar("T")

BREATHE_WORDS = {"in": "Breathe in", "hold": "Hold", "out": "Breathe out"}
# The titles of the Player's bars line up in a column this wide.
TITLE_WIDTH = 12
# Below this many rows the Player packs itself tighter ("-short" in player.tcss).
SHORT_HEIGHT = 24
# Below this many columns the footer leaves out the palette's key for the Player's own.
NARROW_WIDTH = 90
# How many segments after the next one the Player lists (the screen crops what does not fit).
UPCOMING = 12
# Kinds whose title is just the kind ("Rest", "Get ready"): the title line says it once.
_PLAIN_KINDS = frozenset({"get_ready", "rest", "switch"})


def countdown_text(seconds: float) -> str:
    """Time left in whole seconds, rounded up (a countdown shows 1 until it ends)."""
    whole = max(0, math.ceil(seconds - 1e-6))
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def kind_line(seg: Segment) -> str:
    """``HOLD · left side · rep 2 of 3``."""
    parts = [KIND_LABELS.get(seg.kind, seg.kind).upper()]
    if seg.side:
        parts.append(f"{seg.side} side")
    if seg.rep is not None and seg.reps and seg.reps > 1:
        parts.append(f"rep {seg.rep} of {seg.reps}")
    return " · ".join(parts)


def segment_name(seg: Segment) -> str:
    """A segment in a few words, for "Next: …"."""
    if seg.kind in _PLAIN_KINDS:
        name = KIND_LABELS.get(seg.kind, seg.title) if seg.kind != "rest" else seg.title
    else:
        name = f"{KIND_LABELS.get(seg.kind, seg.kind)}: {seg.title}"
    if seg.side:
        name += f", {seg.side} side"
    if seg.rep is not None and seg.reps and seg.reps > 1:
        name += f", rep {seg.rep} of {seg.reps}"
    return f"{name} · {format_duration(seg.duration_s)}"


def details_line(seg: Segment) -> str:
    parts = []
    if seg.area:
        parts.append(f"Area: {seg.area}")
    if seg.tool:
        parts.append(f"Tool: {seg.tool}")
    if seg.pressure is not None:
        parts.append(f"Pressure: {seg.pressure} of 10")
    return " · ".join(parts)


class ConfirmEndScreen(ModalScreen[bool]):
    """ "End this session?": y or enter ends it, n or escape returns."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes, end it"),
        Binding("enter", "answer(True)", "Yes", show=False),
        Binding("n", "answer(False)", "No, go on"),
        Binding("escape", "answer(False)", "No", show=False),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-end", classes="dialog"):
            yield Label("End this session?", classes="dialog-title")
            yield Label("Paused while you choose: the motor is off.", markup=False)
            yield Label("The time so far is saved to your history.", markup=False)
            yield Label("y or enter: end it    n or escape: go on", classes="hint")
        yield Footer(compact=True)

    def action_answer(self, end: bool) -> None:
        self.dismiss(end)


def title_text(timeline: Timeline) -> str:
    """The routine's name, and "adjusted" when an adjustment or "easier today" is in force."""
    if timeline.adjustment is None:
        return timeline.name
    return f"{timeline.name} · adjusted"


class PlayerScreen(Screen[None]):
    """One running session."""

    AUTO_FOCUS = ""
    BINDINGS: ClassVar[list[BindingType]] = [
        # Two bindings for one key each: the footer names what the key does now
        # (check_action hides the other), and the key runs whichever is shown.
        # The footer lists them in this order and a narrow one cuts the end off:
        # pause and end come first.
        Binding("space", "pause", "Pause"),
        Binding("space", "resume", "Resume"),
        Binding("q", "end", "End"),
        Binding("n", "next", "Next"),
        Binding("right", "next", "Next", show=False),
        Binding("p", "back", "Back"),
        Binding("left", "back", "Back", show=False),
        Binding("s", "halt", "Motor off"),
        Binding("s", "release", "Motor on"),
        Binding("escape", "halt", "Stop motor", show=False),
        Binding("plus", "intensity(1)", "+10%", key_display="+"),
        Binding("equals_sign", "intensity(1)", "+10%", show=False),
        Binding("minus", "intensity(-1)", "-10%", key_display="-"),
        # Not enter: enter confirmed the screen before this one, and a second press
        # of it (or a held key) must not choose to go on without the device.
        Binding("w", "start_now", "Start without the device"),
    ]

    def __init__(self, runtime: Runtime) -> None:
        super().__init__()
        self.runtime = runtime
        self.session = runtime.session
        self._unsubscribe: Any = None
        self._hold_full = True  # a breathing hold after "in" shows a full bar, after "out" empty
        self._ended = False
        self._summary_shown = False
        self._cue: str | None = None  # the latest cue of the current segment
        self._upcoming_for: int | None = None  # the index the "then" list was made for
        self._texts: dict[str, str] = {}  # what each label shows now
        self._static_key: tuple[Any, ...] | None = None  # what the texts were made from
        self._bindings_key: tuple[Any, ...] | None = None  # what the footer's keys follow
        self._total_text = countdown_text(runtime.session.timeline.total_s)
        # While the device is being connected before the start: what is being done,
        # and the person's choice if they stop waiting (True: start without it).
        self._connecting: str | None = None
        self._stop_waiting: asyncio.Future[bool] | None = None
        self._rest_shown = False  # the parts left out of the first frame are on the screen

    @property
    def tapp(self) -> TProutineApp:
        from tproutine.tui.app import TProutineApp

        assert isinstance(self.app, TProutineApp)
        return self.app

    # ------------------------------------------------------------------ layout
    #
    # The first frame is what a person waits for after `run FILE`: the step, its
    # clock and bars. The footer's keys (a dozen widgets that Textual builds and
    # styles one by one) and, for a routine without the device, the device panel
    # are mounted once that frame is painted, in places kept for them at their
    # size and colour, so nothing moves when they arrive (docs/design.md, Start-up).

    def compose(self) -> ComposeResult:
        with Vertical(id="player-body"):
            with Horizontal(id="player-top"):
                yield Label(title_text(self.session.timeline), id="routine-name", markup=False)
                yield Label("", id="run-state", markup=False)
            with Horizontal(id="player-main"):
                with Vertical(id="clock-box"):
                    yield Digits("00:00", id="countdown")
                with Vertical(id="step-box"):
                    yield Label("", id="kind-line", markup=False)
                    yield Label("", id="seg-title", markup=False)
                    yield Label("", id="seg-details", markup=False)
                    yield Static("", id="instructions", markup=False)
            yield Label("", id="halt-banner", markup=False)
            yield Label("", id="connect-line", classes="-hidden", markup=False)
            yield Label("", id="cue-line", markup=False)
            yield Meter(title="This step", title_width=TITLE_WIDTH, fine=False, id="segment-meter")
            yield Meter(title="Routine", title_width=TITLE_WIDTH, fine=False, id="routine-meter")
            yield Meter(title_width=TITLE_WIDTH, id="breathe-meter")
            yield Label("", id="next-line", markup=False)
            yield Static("", id="upcoming", markup=False)
        if self._panel_later:
            later = Reserved(id="device-later")
            # The panel's rows: its state, its bar, and its message when it has one.
            later.styles.height = 4 if self.tapp.device_status.message else 3
            yield later
        else:
            yield DevicePanel(self.tapp.device_status, id="device")
        yield Reserved(id="footer-later")

    @property
    def _panel_later(self) -> bool:
        """Whether the device panel can wait for the first frame: nothing drives a device."""
        return not self.session.timeline.uses_device and self.tapp.controller is None

    async def _mount_the_rest(self) -> None:
        """The parts kept out of the first frame, in their places (one layout pass),
        and the list of the steps after the next one."""
        if not self.is_attached or not self.app.is_running:
            return  # the Player is gone already, or the app is closing (a quick quit)
        with self.app.batch_update():
            footer = Footer(compact=True, show_command_palette=self.size.width >= NARROW_WIDTH)
            mounting = [
                put_in_place(
                    self, "device-later", DevicePanel(self.tapp.device_status, id="device")
                ),
                put_in_place(self, "footer-later", footer),
            ]
            for mounted in mounting:
                if mounted is not None:
                    await mounted
        # The footer lists the keys once the screen publishes its bindings again.
        self.refresh_bindings()
        self._rest_shown = True
        s = self.session
        self._show_upcoming(s.index if s.state != "finished" else None)

    def on_mount(self) -> None:
        self._countdown = self.query_one("#countdown", Digits)
        self._meters = {
            name: self.query_one(f"#{name}-meter", Meter)
            for name in ("segment", "routine", "breathe")
        }
        self._unsubscribe = self.session.subscribe(self._listener)
        adjustment = self.session.timeline.adjustment
        if adjustment is not None:
            self.query_one("#routine-name", Label).tooltip = one_line(adjustment.summary)
            self.notify(f"Adjusted: {one_line(adjustment.summary)}", timeout=6)
        self.refresh_view()
        self.set_interval(self.tapp.options.refresh_interval, self.refresh_view)
        self._run()
        # The rest once the frame that shows the step is painted.
        after_first_frame(self, self._mount_the_rest)

    def on_resize(self) -> None:
        # A small terminal keeps what matters: the digits, the step's bar, "Next" and
        # the keys. Long texts get fewer lines and the spacing goes (player.tcss).
        self.set_class(self.size.height < SHORT_HEIGHT, "-short")
        for footer in self.query(Footer):
            footer.show_command_palette = self.size.width >= NARROW_WIDTH

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _listener(self, event: Event) -> None:
        # Called by the engine inside its own step; the message is handled on the
        # screen's queue, after the engine has finished what it was doing.
        self.post_message(SessionEvent(event))

    @work(exclusive=True, group="session", exit_on_error=False)
    async def _run(self) -> None:
        try:
            if not await self._connect_first():
                self.session.stop()  # never started: nothing is recorded
                if self.app.screen is self:
                    self.tapp.back_to_library()
                return
            await self.runtime.run()
        except Exception as exc:
            # A bug must not leave the motor running: stop, close, say what happened.
            self.runtime.session.interrupt()
            self.tapp.report(f"the session stopped because of an error: {exc}")
        finally:
            await self.runtime.aclose()

    async def _connect_first(self) -> bool:
        """Get the device ready before the clock starts; whether to start the session.

        While it connects the Player says so (w starts without it, q ends); if it
        is not ready in time the person chooses: without it, try again, or back.
        """
        bound = self.tapp.connect_timeout
        text = self.runtime.connecting_text(bound)
        if text is None:
            return True
        from tproutine.tui.screens.device_choice import DeviceChoiceScreen

        loop = asyncio.get_running_loop()
        while True:
            waiting: asyncio.Future[bool] = loop.create_future()
            self._stop_waiting = waiting
            self._show_connecting(text)
            attempt = asyncio.ensure_future(self.runtime.connect_device(bound))
            try:
                either: set[asyncio.Future[Any]] = {attempt, waiting}
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self._stop_waiting = None
                self._show_connecting(None)
                if not attempt.done():
                    attempt.cancel()
                    await asyncio.gather(attempt, return_exceptions=True)
            if waiting.done():
                return waiting.result()
            reason = attempt.result()
            if reason is None:
                return True
            choice = await self.app.push_screen_wait(DeviceChoiceScreen(reason))
            if choice != "retry":
                return choice == "timer"

    def _show_connecting(self, text: str | None) -> None:
        from tproutine.safetext import one_line

        self._connecting = text
        line = self.query_one("#connect-line", Label)
        if text is not None:
            line.update(f"{one_line(text)}  w: start without it · q: end")
        line.set_class(text is None, "-hidden")
        self.refresh_bindings()
        self.refresh_view()

    # ------------------------------------------------------------------ events

    def on_session_event(self, message: SessionEvent) -> None:
        event = message.event
        name = event.event
        if name == "breathe":
            phase = event.get("phase")
            if phase in ("in", "out"):
                self._hold_full = phase == "in"
        elif name == "segment_start":
            self._hold_full = True
            self._cue = None  # a cue belongs to its segment
        elif name == "cue" and event.get("count") is None:
            self._cue = str(event.get("say", ""))
        elif name == "clamp":
            self.notify(
                f"Intensity held at {event.get('given', 0):g}% "
                f"(asked {event.get('asked', 0):g}%): {event.get('why', 'the cap')}.",
                timeout=4,
            )
        elif name == "device" and event.get("warning"):
            from tproutine.safetext import one_line

            # The device may run on out of the app's reach: said at once, and kept
            # on screen long enough to be read.
            self.notify(one_line(str(event["warning"])), severity="error", timeout=30)
        elif name == "session_end":
            self._ended = True
        self.refresh_view()
        if self._ended:
            self._show_summary()

    def on_screen_resume(self) -> None:
        self.refresh_view()
        if self._ended:
            self._show_summary()

    def _show_summary(self) -> None:
        # Only from the top of the stack: a Devices or Help screen over the Player
        # stays where it is, and the summary follows when the person comes back.
        if self._summary_shown or self.app.screen is not self:
            return
        from tproutine.tui.screens.summary import SummaryScreen

        self._summary_shown = True
        self.app.switch_screen(SummaryScreen(self.runtime))

    # ------------------------------------------------------------------ view

    def _put(self, selector: str, text: str) -> None:
        """Set a label's text only when it changed: an update re-lays the widget out,
        and this runs several times a second."""
        if self._texts.get(selector) == text:
            return
        self._texts[selector] = text
        # The routine's text was checked at the door; shown safely all the same.
        self.query_one(selector, Static).update(visible(text))

    def refresh_view(self) -> None:
        """Read the session's views and show them (no timing happens here).

        What changes only with the segment, the state, the scale or a cue is redrawn
        only then; the digits and the bars are read at every call.
        """
        s = self.session
        seg = s.current
        state = s.state
        # A ramp changes the device percent within a segment: whole percents are shown.
        percent = s.planned_percent()
        shown = None if percent is None else round(percent)
        key = (s.index, state, s.scale, s.device_halted, self._cue, shown, self._connecting)
        if key != self._static_key:
            self._static_key = key
            self._refresh_static()

        remaining = s.segment_remaining()
        clock = countdown_text(remaining) if seg is not None else "00:00"
        if self._countdown.value != clock:
            self._countdown.update(clock)

        seg_meter = self._meters["segment"]
        if seg is not None and seg.duration_s > 0:
            seg_meter.value = s.segment_elapsed() / seg.duration_s
            seg_meter.label = f"{countdown_text(remaining)} left"
        else:
            seg_meter.value = 1.0 if state == "finished" else 0.0
            seg_meter.label = ""
        total = s.timeline.total_s
        routine_meter = self._meters["routine"]
        routine_meter.value = s.position() / total if total > 0 else 1.0
        routine_meter.label = f"{countdown_text(s.remaining())} left of {self._total_text}"

        phase = s.breathe_phase()
        meter = self._meters["breathe"]
        meter.set_class(phase is None, "-hidden")
        if phase is not None:
            name, fraction = phase
            if name == "in":
                fill = fraction
            elif name == "out":
                fill = 1.0 - fraction
            else:
                fill = 1.0 if self._hold_full else 0.0
            meter.title = BREATHE_WORDS.get(name, name)
            meter.value = fill
            meter.label = name

    def _refresh_static(self) -> None:
        """The texts that change with the segment, the state, the scale, the stop or a cue."""
        s = self.session
        seg = s.current
        state = s.state
        if self._connecting is not None:
            run_text = "Connecting the device…"
        elif state == "paused":
            run_text = "‖ Paused · space resumes"
        elif state == "running":
            run_text = "▶ Running"
        elif state == "finished":
            run_text = "■ Completed" if s.status == "completed" else "■ Ended"
        else:
            run_text = "Starting…"
        self._put("#run-state", run_text)
        self.set_class(state == "paused", "-paused")
        # The footer's labels follow the state ("Resume" while paused, "Motor on" while
        # stopped by the person): check_action is asked again, only when what it reads
        # changed. Each time, the footer rebuilds all its keys; a new step or a cue
        # leaves them as they are.
        bindings_key = (state, s.device_halted, self._stop_waiting is not None)
        if bindings_key != self._bindings_key:
            self._bindings_key = bindings_key
            self.refresh_bindings()

        if seg is None:
            self._put("#kind-line", "")
            self._put("#seg-title", "Finished" if state == "finished" else "Getting ready")
            self._put("#seg-details", "")
            self._put("#instructions", "")
        else:
            self._put("#kind-line", kind_line(seg))
            title = seg.title if seg.kind not in ("get_ready", "switch") else KIND_LABELS[seg.kind]
            self._put("#seg-title", title)
            details = details_line(seg)
            target = self._target_text()
            if target:
                details = f"{details} · {target}" if details else target
            self._put("#seg-details", details)
            self._put("#instructions", " ".join((seg.instructions or "").split()))

        halted = s.device_halted
        self._put(
            "#halt-banner",
            "Motor stopped by you: off until you press s again." if halted else "",
        )
        self.query_one("#halt-banner").set_class(not halted, "-hidden")

        cue = self._cue if seg is not None else None
        self._put("#cue-line", f"» {' '.join(cue.split())}" if cue else "")

        nxt = s.next_segment
        if state == "finished":
            next_text = ""
        elif nxt is None:
            next_text = "Next: the end of the routine"
        else:
            next_text = f"Next: {segment_name(nxt)}"
        self._put("#next-line", next_text)
        self._show_upcoming(s.index if state != "finished" else None)

    def _show_upcoming(self, index: int | None) -> None:
        """The segments after the next one: as many as the screen has room for.

        Left out of the first frame (a dozen lines to wrap and draw that nobody
        reads in the first second): shown with the footer's keys.
        """
        if index == self._upcoming_for or not self._rest_shown:
            return
        self._upcoming_for = index
        segments = self.session.timeline.segments
        later = segments[index + 2 : index + 2 + UPCOMING] if index is not None else ()
        self._put("#upcoming", "\n".join(f"Then: {segment_name(seg)}" for seg in later))

    def _target_text(self) -> str:
        s = self.session
        scale = "" if abs(s.scale - 1.0) < 1e-9 else f" (your scale {s.scale * 100:.0f}%)"
        percent = s.planned_percent()
        if percent is not None:
            return f"Device {percent:.0f}%{scale}"
        level = s.planned_level()
        if level is not None:
            return f"Device level {level}"
        # A step without the device has no intensity to speak of.
        return ""

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        s = self.session
        if action == "start_now":
            return self._stop_waiting is not None
        if action == "pause":
            return s.state != "paused"
        if action == "resume":
            return s.state == "paused"
        if action == "release":
            return s.device_halted
        if action == "halt":
            return not s.device_halted
        return True

    def action_toggle_pause(self) -> None:
        self.session.toggle_pause()
        self.refresh_view()

    def action_pause(self) -> None:
        self.session.pause()
        self.refresh_view()

    def action_resume(self) -> None:
        self.session.resume()
        self.refresh_view()

    def action_next(self) -> None:
        self.session.next()
        self.refresh_view()

    def action_back(self) -> None:
        self.session.back()
        self.refresh_view()

    def action_intensity(self, steps: int) -> None:
        from tproutine.engine.session import SCALE_STEP

        before = self.session.scale
        after = self.session.change_scale(steps * SCALE_STEP)
        if after == before:
            edge = "highest" if steps > 0 else "lowest"
            self.notify(f"Intensity is at its {edge} ({after * 100:.0f}%).", timeout=3)
        elif self.session.planned_percent() is None and self.session.planned_level() is None:
            # Nothing on screen shows the scale on a step without the device: say it here.
            self.notify(
                f"Device intensity {after * 100:.0f}% for the rest of the session "
                "(this step does not use the device).",
                timeout=3,
            )
        self.refresh_view()

    def action_halt(self) -> None:
        """The latched motor stop: the motor stays off until ``s`` again."""
        self._set_halt(True)

    def action_release(self) -> None:
        """Lift the latched stop: the session drives the motor again."""
        self._set_halt(False)

    def _set_halt(self, halt: bool) -> None:
        s = self.session
        controller = self.tapp.controller
        if s.state in ("running", "paused"):
            if halt:
                s.halt_device()
            else:
                s.release_device()
            halted = s.device_halted
        else:
            halted = True
        if controller is not None and cast(object, controller) is not self.runtime.device:
            # A controller that is not the session's device link still has to obey.
            if halted:
                controller.emergency_stop()
            else:
                controller.release_stop()
        self.notify(
            "Motor stopped. Press s to allow it again." if halted else "Motor allowed again.",
            timeout=3,
        )
        self.refresh_view()

    def action_start_now(self) -> None:
        """Stop waiting for the device and start the routine without it."""
        if self._stop_waiting is not None and not self._stop_waiting.done():
            self._stop_waiting.set_result(True)

    def action_end(self) -> None:
        def answered(end: bool | None) -> None:
            if not end:
                return
            if self._stop_waiting is not None and not self._stop_waiting.done():
                self._stop_waiting.set_result(False)  # never started: back to the library
                return
            self.session.stop()

        self.ask(ConfirmEndScreen(), answered)

    def ask(self, question: ModalScreen[T], answered: Callable[[T | None], None]) -> None:
        """Show a question over the session, paused (the motor stopped) until it is answered.

        Nobody should be timed, or massaged, while reading a question. The session
        resumes afterwards only if this paused it, and only if the answer left it
        paused (an answer that ends the session ends it).
        """
        paused_here = self.session.pause()
        self.refresh_view()

        def done(answer: T | None) -> None:
            answered(answer)
            if paused_here and self.session.state == "paused":
                self.session.resume()
            self.refresh_view()

        self.app.push_screen(question, done)
