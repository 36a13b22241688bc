"""The storymode command line. It calls the Python API and maps StorymodeError to a message and an exit code."""
from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import click

from .config import Settings
from .guard import guarded

SETTING_NAMES = tuple(name for name in Settings.model_fields
                      if name not in ("options", "screen_options"))  # each has its flag


def _choices(setting: str) -> list[str]:
    """The values a setting allows (its Literal in Settings), as flag choices."""
    return [str(value) for value in get_args(Settings.model_fields[setting].annotation)]


def _as_int(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    return None if value is None else int(value)


def stage_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The flags shared by make and the stage commands."""
    decorators = [
        click.option("--scenes", type=click.IntRange(1, 300), help="Number of scenes (1-300; default 6)."),
        click.option("--audience", type=str, help="Who it is for: kids, teens, adults."),
        click.option("--style", type=str, help="Picture style preset (default storybook)."),
        click.option("--tone", type=str, help="Tone of the writing: gentle, funny, spooky ..."),
        click.option("--words-per-scene", type=click.IntRange(10, 300), help="Target words per scene."),
        click.option("--aspect", type=click.Choice(_choices("aspect")), help="Frame shape (default 16:9)."),
        click.option("--resolution", type=click.Choice(_choices("resolution")), help="Frame size (default 720p)."),
        click.option("--fps", type=click.Choice(_choices("fps")), callback=_as_int,
                     help="Frames per second (default 30)."),
        click.option("--seed", type=click.IntRange(0, 2**32 - 1), help="Same seed, same story and pictures."),
        click.option("--music", type=str, help="Music bed under the narration (ducked while the voice speaks)."),
        click.option("--align", type=click.Choice(_choices("align")),
                     help="Word timings for captions by Whisper alignment (auto: when storymode[align] is installed)."),
        click.option("--export", type=str, metavar="FORMATS",
                     help="Also write, under the story folder's exports/: epub, pdf, otio, fcpxml, kdenlive "
                          "(comma-separated), or all."),
        click.option("--page-size", type=click.Choice(_choices("page_size")), help="The PDF book's trim (default a4)."),
        click.option("--screen", type=str, metavar="NAMES",
                     help="Text screens for the audience (comma-separated; default offline; also moderation)."),
        click.option("--credentials/--no-credentials", default=None,
                     help="C2PA Content Credentials and IPTC/XMP AI fields in pictures and video (default on)."),
        click.option("--sign-cert", type=str, metavar="PEM",
                     help="Your certificate chain for the credentials (default: a local chain made once)."),
        click.option("--sign-key", type=str, metavar="PEM", help="The private key of --sign-cert."),
        click.option("--ai-notice/--no-ai-notice", default=None,
                     help="The end card says the story was made with AI and by which backends (default on)."),
        click.option("--writer", type=str, help="Writer backend (see `storymode backends`)."),
        click.option("--narrator", type=str, help="Narrator backend."),
        click.option("--illustrator", type=str, help="Illustrator backend."),
        click.option("--composer", type=str, help="Composer backend."),
        click.option("-o", "outputs", multiple=True, metavar="OUT|KEY=VALUE",
                     help="Output .mp4 path, or a backend option KEY=VALUE / STAGE.KEY=VALUE (repeatable)."),
        click.option("--option", "option_pairs", multiple=True, metavar="KEY=VALUE", help="A backend option."),
        click.option("--config", type=click.Path(path_type=Path), help="Settings file (default ./storymode.toml)."),
        click.option("--profile", type=str, help="A [profiles.NAME] table of the settings file."),
        trust_config_option(),
        click.option("--fresh", is_flag=True, help="Ignore the cache and redo everything."),
        click.option("--force", is_flag=True, help="Overwrite an output file that is not this story's render."),
        click.option("-q", "--quiet", is_flag=True, help="No progress output."),
        click.option("--progress", "progress_kind", type=click.Choice(["bar", "json", "none"]), default="bar",
                     help="Progress as bars (default), JSON lines on stdout, or none."),
    ]
    fn = with_trust(fn)
    for decorator in reversed(decorators):
        fn = decorator(fn)
    return fn


TRUST_CONFIG_HELP = (
    "Treat the settings file this command reads (a storymode.toml in the current folder, or --config FILE) as "
    "your own: let it turn on trust_remote_code, send an API key to its own base_url, and name paths outside its "
    "folder. Only for a file you wrote or checked (see SECURITY.md).")


def trust_config_option() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--trust-config, which runs the command inside config.trusting()."""
    return click.option("--trust-config", "trust_config", is_flag=True, help=TRUST_CONFIG_HELP)


def with_trust(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command inside config.trusting() when it was given --trust-config (so the API's own reads agree)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .config import trusting

        with trusting(bool(kwargs.get("trust_config"))):
            return fn(*args, **kwargs)

    return wrapper


NARRATION_AUDIO_HELP = (
    "Your own reading of the story (m4a, mp3, wav, ogg, flac: anything ffmpeg reads), cut into the lines by "
    "Whisper alignment instead of synthesized voices, captioned word by word with the story's text. The story "
    "folder remembers it; 'none' goes back to synthesized voices. For a story written from a prompt: run "
    "`storymode write` first, read story.json's lines aloud, then `storymode narrate -d DIR --narration-audio "
    "FILE` (a recording of any other text is refused). Needs storymode[align].")


def narration_audio_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--narration-audio FILE, on the commands that narrate."""
    return click.option("--narration-audio", "narration_audio", type=str, metavar="FILE|none",
                        help=NARRATION_AUDIO_HELP)(fn)


def _api_arguments(params: dict[str, Any]) -> tuple[dict[str, Any], Path | None]:
    """What the flags hand to every API call: the settings in force, resolved once (defaults, --config and
    --profile, the environment, every Settings field's flag, -o KEY=VALUE options placed on the chosen
    backends), and --fresh; and the output path of -o PATH (or --out)."""
    from .config import place_options, resolve_settings, with_options
    from .registry import STAGES

    out, pairs = _outputs_and_options(params)
    overrides = {name: params.get(name) for name in SETTING_NAMES}
    settings = resolve_settings(overrides, config=params.get("config"), profile=params.get("profile"))
    if pairs:  # an option goes to the chosen backend that has it: the settings in force say which that is
        settings = with_options(settings, place_options(pairs, {stage: settings.backend(stage) for stage in STAGES}))
    return {"settings": settings, "fresh": params["fresh"]}, out


def _outputs_and_options(params: dict[str, Any]) -> tuple[Path | None, list[str]]:
    """Split the -o values into the output path (checked) and backend options KEY=VALUE (with --option's)."""
    from .config import check_video_path, looks_like_option
    from .errors import UsageError

    out: Path | None = params.get("out")
    pairs = list(params.get("option_pairs") or ())
    for value in params.get("outputs") or ():
        if looks_like_option(value):
            pairs.append(value)
        elif out is not None:
            raise UsageError(f"two outputs given ({out} and {value}); give one -o PATH")
        else:
            out = Path(value)
    if out is not None:
        check_video_path(out)
    return out, pairs


def _run_with_view(params: dict[str, Any], call: Callable[[Any], Any]) -> Any:
    from .progress import make_view

    view = make_view(params.get("progress_kind", "bar"), bool(params.get("quiet")))
    try:
        return call(view)
    finally:
        view.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show Python tracebacks on errors.")
@click.version_option(package_name="storymode")
def cli(debug: bool) -> None:
    """storymode: a prompt or a text becomes a narrated, illustrated story video.

    \b
    storymode make "a shy fox who learns to fly" -o fox.mp4
    storymode make --from tale.txt -o tale.mp4
    storymode make --from tale.txt --narration-audio reading.m4a -o tale.mp4
    """


@cli.command()
@click.argument("prompt", required=False)
@click.option("--from", "from_file", type=click.Path(path_type=Path), help="Your own story text (.txt or .md).")
@click.option("--out", type=click.Path(path_type=Path), help="Output .mp4 (same as -o PATH).")
@click.option("--story-dir", type=click.Path(path_type=Path), help="Story folder (default: OUT.storymode/).")
@narration_audio_option
@stage_options
@guarded
def make(prompt: str | None, from_file: Path | None, story_dir: Path | None, **params: Any) -> None:
    """Write, narrate, illustrate and render a story video."""
    from . import api
    from .errors import UsageError

    if prompt is not None and from_file is not None:
        raise UsageError("give a prompt or --from FILE, not both")
    if prompt is None and from_file is None:
        raise UsageError('give a prompt, e.g. storymode make "a shy fox who learns to fly" -o fox.mp4')
    arguments, out = _api_arguments(params)
    if out is None:
        raise UsageError("say where the video goes: -o story.mp4")
    result = _run_with_view(params, lambda view: api.make(
        prompt, out=out, from_file=from_file, story_dir=story_dir, force=params["force"], on_event=view,
        narration_audio=params.get("narration_audio"), **arguments))
    if not params["quiet"] and params["progress_kind"] != "json":
        click.echo(f"{result.story.title!r}: {result.duration:.1f} s, {len(result.story.scenes)} scenes")
        click.echo(f"  video      {result.video}\n  captions   {result.srt}, {result.vtt}\n"
                   f"  story      {result.story_dir}")
        _echo_exports(result.exports)


def _echo_exports(exports: dict[str, Path]) -> None:
    """One line per exported file, named by what it is."""
    names = {"html": "storybook"}
    for name, path in exports.items():
        click.echo(f"  {names.get(name, name):<10} {path}")


def _dir_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-d", "--dir", "story_dir", type=click.Path(path_type=Path), required=True,
                        help="The story folder (e.g. fox.storymode).")(fn)


@cli.command()
@click.argument("prompt", required=False)
@click.option("--from", "from_file", type=click.Path(path_type=Path), help="Your own story text (.txt or .md).")
@_dir_option
@stage_options
@guarded
def write(prompt: str | None, from_file: Path | None, story_dir: Path, **params: Any) -> None:
    """Write story.json into a story folder (edit it, then run narrate/illustrate/compose or make)."""
    from . import api

    arguments, _ = _api_arguments(params)
    story = _run_with_view(params, lambda view: api.write(prompt, story_dir=story_dir, from_file=from_file,
                                                          on_event=view, **arguments))
    if not params["quiet"] and params["progress_kind"] != "json":
        click.echo(f"{story.title!r}: {len(story.scenes)} scenes -> {Path(story_dir) / 'story.json'}")


@cli.command()
@_dir_option
@narration_audio_option
@stage_options
@guarded
def narrate(story_dir: Path, **params: Any) -> None:
    """Narrate every line of a story folder (cached), or cut your own reading of it into the lines."""
    from . import api

    arguments, _ = _api_arguments(params)
    _run_with_view(params, lambda view: api.narrate(story_dir, on_event=view,
                                                     narration_audio=params.get("narration_audio"), **arguments))


@cli.command()
@_dir_option
@stage_options
@guarded
def illustrate(story_dir: Path, **params: Any) -> None:
    """Draw every scene of a story folder (cached)."""
    from . import api

    arguments, _ = _api_arguments(params)
    _run_with_view(params, lambda view: api.illustrate(story_dir, on_event=view, **arguments))


@cli.command()
@_dir_option
@narration_audio_option
@stage_options
@guarded
def compose(story_dir: Path, **params: Any) -> None:
    """Render a story folder to MP4 + SRT + VTT (default: the folder's name with .mp4)."""
    from . import api
    from .errors import UsageError

    arguments, out = _api_arguments(params)
    if out is None:  # the folder's name with .mp4 beside it ('-d .' too: the folder's own name)
        folder = Path(story_dir) if Path(story_dir).name else Path(story_dir).resolve()
        if not folder.name:
            raise UsageError(f"the story folder {story_dir} has no name to give the video; give -o NAME.mp4")
        out = folder.with_suffix(".mp4")
    result = _run_with_view(params, lambda view: api.render(
        story_dir, out, force=params["force"], on_event=view, narration_audio=params.get("narration_audio"),
        **arguments))
    if not params["quiet"] and params["progress_kind"] != "json":
        click.echo(f"{result.duration:.1f} s -> {out}")
        _echo_exports(result.exports)


@cli.command("export")
@_dir_option
@click.option("--format", "formats", required=True, metavar="FORMATS",
              help="epub, pdf, otio, fcpxml, kdenlive, html (comma-separated), or all.")
@click.option("--page-size", type=click.Choice(_choices("page_size")), default="a4", show_default=True,
              help="The PDF book's trim: A4 or US Letter portrait, or an 8.5 in square.")
@click.option("--fresh", is_flag=True, help="Write the files again even when they are up to date.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@click.option("--progress", "progress_kind", type=click.Choice(["bar", "json", "none"]), default="bar",
              help="Progress as bars (default), JSON lines on stdout, or none.")
@guarded
def export_command(story_dir: Path, formats: str, page_size: str, fresh: bool, **params: Any) -> None:
    """Write a composed story as a read-aloud EPUB, a PDF picture book or an editor timeline.

    \b
    Files land in the story folder's exports/:
      html      storybook.html      the storybook web page
      epub      book.epub           EPUB 3 with read-aloud Media Overlays
      pdf       book-SIZE.pdf       printable picture book (--page-size a4, letter, square)
      otio      timeline.otio       OpenTimelineIO
      fcpxml    timeline.fcpxml     Final Cut Pro / DaVinci Resolve
      kdenlive  timeline.kdenlive   Kdenlive project
    """
    from . import api

    made = _run_with_view(params, lambda view: api.export(story_dir, formats, page_size=page_size, fresh=fresh,
                                                          on_event=view))
    if not params["quiet"] and params["progress_kind"] != "json":
        _echo_exports(made)


@cli.command()
@click.option("--say", type=str, help="Speak this text with --voice and write it to -o.")
@click.option("--voice", type=str, default="narrator", show_default=True, help="Preset name.")
@click.option("-o", "--out", type=click.Path(path_type=Path), help="Where --say writes its wav.")
@guarded
def voices(say: str | None, voice: str, out: Path | None) -> None:
    """List the voice presets, or preview one with --say."""
    from .cast import load_presets
    from .errors import UsageError
    from .registry import create

    presets = load_presets()
    if say is None:
        width = max(map(len, presets)) + 1
        for name, preset in sorted(presets.items()):
            click.echo(f"{name:<{width}} {preset.backend:<8} {preset.role:<10} {preset.description}")
        return
    if voice not in presets:
        raise UsageError(f"no voice preset {voice!r}; presets: {', '.join(sorted(presets))}")
    if out is None:
        raise UsageError("--say needs -o FILE.wav")
    from .sound.wav import write_wav
    from .narrators.base import Narrator
    from .pipeline import clean_prompt

    narrator = create("narrator", presets[voice].backend)
    assert isinstance(narrator, Narrator)
    narration = narrator.narrate(clean_prompt(say), presets[voice])
    write_wav(out, narration.samples, narration.sample_rate)
    click.echo(f"{out}: {narration.duration:.2f} s in voice {voice!r}")


@cli.command()
@click.option("--writer", type=str, help="Probe this writer with the options given.")
@click.option("--narrator", type=str, help="Probe this narrator with the options given.")
@click.option("--illustrator", type=str, help="Probe this illustrator with the options given.")
@click.option("-o", "--option", "option_pairs", multiple=True, metavar="KEY=VALUE",
              help="A backend option (STAGE.KEY=VALUE), as for make.")
@click.option("--config", type=click.Path(path_type=Path), help="Settings file (default ./storymode.toml).")
@click.option("--profile", type=str, help="A [profiles.NAME] table of the settings file.")
@click.option("--no-probe", is_flag=True, help="Do not ask the servers of remote backends whether they answer.")
@guarded
def backends(writer: str | None, narrator: str | None, illustrator: str | None, option_pairs: tuple[str, ...],
             config: Path | None, profile: str | None, no_probe: bool) -> None:
    """List every backend, whether it is usable here, and what installs it if not; for those that talk to a
    server (openai, comfyui), whether it answers now with the settings in force, and what to set if not."""
    from .config import place_options, resolve_settings, with_options
    from .errors import StorymodeError
    from .reach import probe_all
    from .registry import STAGES, describe_all

    rows = describe_all()
    reach: dict[tuple[str, str], tuple[bool, str]] = {}
    if not no_probe:
        chosen = {"writer": writer, "narrator": narrator, "illustrator": illustrator}
        try:
            settings = resolve_settings(chosen, config=config, profile=profile)
        except StorymodeError as err:  # a settings file it may not read still leaves a list worth showing
            if config or profile:
                raise
            click.echo(f"(probing with the built-in settings: {err})", err=True)
            settings = Settings(**{stage: name for stage, name in chosen.items() if name})
        if option_pairs:
            settings = with_options(settings, place_options(list(option_pairs),
                                                            {stage: settings.backend(stage) for stage in STAGES}))
        reach = probe_all([(row.stage, row.name) for row in rows if row.usable], settings)
    for row in rows:
        mark = "yes" if row.usable else "no "
        default = " (default)" if row.default else ""
        click.echo(f"{row.stage:<12} {row.name:<12} {mark}  {row.description}{default}")
        if not row.usable:
            click.echo(f"{'':<12} {'':<12}      -> {row.why_not}")
        elif (row.stage, row.name) in reach:
            ok, said = reach[(row.stage, row.name)]
            click.echo(f"{'':<12} {'':<12}      -> {'reachable' if ok else 'not reachable'}: {said}")


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the credentials as JSON.")
@guarded
def verify(file: Path, as_json: bool) -> None:
    """Read the Content Credentials (C2PA) of a picture or video back: what made it, with which models, who signed
    it, and whether it was changed since. Exit 0 when signed and unchanged, 1 otherwise."""
    import dataclasses

    from .pipeline.credentials import known_anchors
    from .provenance.verify import describe, read_credentials

    found = read_credentials(file, anchors_pem=known_anchors())
    click.echo(json.dumps(dataclasses.asdict(found), indent=2) if as_json else describe(found))
    if found.state not in ("trusted", "valid"):
        raise SystemExit(1)


@cli.command()
@guarded
def schema() -> None:
    """Print the JSON Schema of story.json."""
    from .story import story_schema

    click.echo(json.dumps(story_schema(), indent=2))


def _register_extra_commands() -> None:
    """Commands that live in their own modules (each imports its heavy parts only when run)."""
    from .batch import batch as batch_command
    from .gallery import gallery as gallery_command
    from .service import serve as serve_command
    from .studio.cli import studio as studio_command

    for command in (batch_command, gallery_command, serve_command, studio_command):
        cli.add_command(command)


_register_extra_commands()


def main() -> None:
    """Console entry point."""
    cli(prog_name="storymode")


if __name__ == "__main__":
    main()
