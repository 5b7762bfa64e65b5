"""Pronunciation made by the machine: `espeak-ng` speaks the text in the deck's language (WAV),
`opusenc` makes it OGG/Opus, which Telegram plays as a voice message. Both run as child
processes with a time limit; the text goes on stdin, never on the command line."""
from __future__ import annotations

import hashlib
import logging
import subprocess
from dataclasses import dataclass

import anyio
from prometheus_client import Counter, Histogram

from shared.errors import ServiceUnavailable, Unprocessable

log = logging.getLogger(__name__)
OGG_OPUS = "audio/ogg"

SPEECH_MADE = Counter("repitbot_dictionary_speech_total", "Pronunciations generated, by outcome", ["outcome"])
SPEECH_SECONDS = Histogram("repitbot_dictionary_speech_seconds", "Time to generate one pronunciation")


@dataclass(frozen=True)
class Synthesiser:
    espeak: str
    opusenc: str
    timeout: float

    async def speak(self, voice: str, text: str) -> bytes:
        """The text spoken in `voice`, as OGG/Opus bytes. 503 when a program is missing or fails,
        422 when espeak-ng has no such voice."""
        with SPEECH_SECONDS.time():
            wav = await self._run([self.espeak, "-b", "1", "-v", voice, "--stdout"], text.encode(), "espeak-ng")
            ogg = await self._run([self.opusenc, "--quiet", "--speech", "-", "-"], wav, "opusenc")
        SPEECH_MADE.labels("made").inc()
        return ogg

    async def _run(self, command: list[str], stdin: bytes, name: str) -> bytes:
        try:
            with anyio.fail_after(self.timeout):
                done = await anyio.run_process(command, input=stdin, check=False)
        except FileNotFoundError as exc:
            SPEECH_MADE.labels("missing").inc()
            raise ServiceUnavailable(f"Pronunciation cannot be generated here: {name} is not installed "
                                     f"({command[0]} was not found)") from exc
        except TimeoutError as exc:
            SPEECH_MADE.labels("timeout").inc()
            raise ServiceUnavailable(f"Pronunciation took longer than {self.timeout:g} s to generate") from exc
        if done.returncode != 0 or not done.stdout:
            return self._failed(done, name, command)
        return done.stdout

    @staticmethod
    def _failed(done: subprocess.CompletedProcess[bytes], name: str, command: list[str]) -> bytes:
        reason = done.stderr.decode(errors="replace").strip()[:300]
        if name == "espeak-ng" and "voice does not exist" in reason:
            SPEECH_MADE.labels("no_voice").inc()
            voice = command[command.index("-v") + 1]
            raise Unprocessable(f"There is no voice for the deck's language {voice!r}",
                                errors=[{"loc": ["deck", "source_lang"], "msg": "no voice for this language"}])
        SPEECH_MADE.labels("failed").inc()
        log.warning("%s failed with exit status %s: %s", name, done.returncode, reason)
        raise ServiceUnavailable(f"Pronunciation could not be generated ({name} failed)")


def clip_key(voice: str, text: str) -> str:
    """What a generated pronunciation is cached under: the same voice and text, the same clip."""
    return hashlib.sha256(f"{voice}\x00{' '.join(text.split())}".encode()).hexdigest()


def voice_of(language: str) -> str:
    """espeak-ng's voice for a deck language (`pt-BR` -> `pt-br`)."""
    return language.lower()
