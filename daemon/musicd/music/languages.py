"""The vocal languages musicd supports: code -> English name, native name and espeak-ng voice."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from musicd.text import closest


@dataclass(frozen=True)
class Language:
    """One supported vocal language."""

    code: str  # ISO 639-1
    english_name: str
    native_name: str
    espeak_voice: str  # an espeak-ng voice name (`espeak-ng --voices` lists them)


_TABLE: tuple[Language, ...] = (
    Language("en", "English", "English", "en-us"),
    Language("es", "Spanish", "Español", "es"),
    Language("fr", "French", "Français", "fr-fr"),
    Language("de", "German", "Deutsch", "de"),
    Language("it", "Italian", "Italiano", "it"),
    Language("pt", "Portuguese", "Português", "pt-br"),
    Language("nl", "Dutch", "Nederlands", "nl"),
    Language("pl", "Polish", "Polski", "pl"),
    Language("cs", "Czech", "Čeština", "cs"),
    Language("tr", "Turkish", "Türkçe", "tr"),
    Language("ru", "Russian", "Русский", "ru"),
    Language("uk", "Ukrainian", "Українська", "uk"),
    Language("sv", "Swedish", "Svenska", "sv"),
    Language("da", "Danish", "Dansk", "da"),
    Language("nb", "Norwegian", "Norsk", "nb"),
    Language("fi", "Finnish", "Suomi", "fi"),
    Language("hu", "Hungarian", "Magyar", "hu"),
    Language("ro", "Romanian", "Română", "ro"),
    Language("el", "Greek", "Ελληνικά", "el"),
    Language("hi", "Hindi", "हिन्दी", "hi"),
    Language("ar", "Arabic", "العربية", "ar"),
    Language("id", "Indonesian", "Bahasa Indonesia", "id"),
    Language("vi", "Vietnamese", "Tiếng Việt", "vi"),
    Language("zh", "Chinese", "中文", "cmn"),
    Language("ja", "Japanese", "日本語", "ja"),
    Language("ko", "Korean", "한국어", "ko"),
)

LANGUAGES: dict[str, Language] = {language.code: language for language in _TABLE}

# Other names people write for a supported language (compared after normalising).
_EXTRA_NAMES: dict[str, str] = {
    "castellano": "es",
    "castilian": "es",
    "brazilian": "pt",
    "brazilian portuguese": "pt",
    "flemish": "nl",
    "no": "nb",
    "nn": "nb",
    "bokmal": "nb",
    "nynorsk": "nb",
    "norwegian bokmal": "nb",
    "mandarin": "zh",
    "cmn": "zh",
    "putonghua": "zh",
    "zh-hans": "zh",
    "nihongo": "ja",
    "hangul": "ko",
    "hindustani": "hi",
    "bahasa": "id",
    "eng": "en",
    "spa": "es",
    "fra": "fr",
    "fre": "fr",
    "deu": "de",
    "ger": "de",
    "ita": "it",
    "por": "pt",
    "nld": "nl",
    "dut": "nl",
    "pol": "pl",
    "ces": "cs",
    "cze": "cs",
    "tur": "tr",
    "rus": "ru",
    "ukr": "uk",
    "swe": "sv",
    "dan": "da",
    "nob": "nb",
    "nor": "nb",
    "fin": "fi",
    "hun": "hu",
    "ron": "ro",
    "rum": "ro",
    "ell": "el",
    "gre": "el",
    "hin": "hi",
    "ara": "ar",
    "ind": "id",
    "vie": "vi",
    "zho": "zh",
    "chi": "zh",
    "jpn": "ja",
    "kor": "ko",
}


def _normalise(text: str) -> str:
    """Case-, accent- and spacing-insensitive form: "  Español " -> "espanol"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.replace("_", "-").split())


def _build_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for language in _TABLE:
        for name in (language.code, language.english_name, language.native_name):
            lookup[_normalise(name)] = language.code
    for name, code in _EXTRA_NAMES.items():
        lookup[_normalise(name)] = code
    return lookup


_LOOKUP = _build_lookup()


def canonical_language(text: str) -> str | None:
    """The language code for "English", "en", "en-US", "pt_BR", "Español", "日本語"...; else None."""
    if not isinstance(text, str):
        return None
    key = _normalise(text)
    if key in _LOOKUP:
        return _LOOKUP[key]
    without_note = _normalise(re.sub(r"\(.*?\)", " ", key))  # "English (US)" -> "english"
    if without_note in _LOOKUP:
        return _LOOKUP[without_note]
    primary = re.split(r"[-\s]", key, maxsplit=1)[0]  # "en-us" -> "en", "zh-hans-cn" -> "zh"
    if 2 <= len(primary) <= 3 and primary in _LOOKUP and primary != key:
        return _LOOKUP[primary]
    return None


def close_languages(text: str, limit: int = 3) -> list[str]:
    """English names of supported languages close to an unknown one, for "did you mean"."""
    key = _normalise(text)
    names = {_normalise(lang.english_name): lang.english_name for lang in _TABLE}
    names.update({_normalise(lang.native_name): lang.english_name for lang in _TABLE})
    return closest(key, names, limit=limit)


def espeak_voice(code: str) -> str:
    """The espeak-ng voice for a supported language code (KeyError if unsupported)."""
    return LANGUAGES[code].espeak_voice


def supported_languages_text() -> str:
    """ "en (English), es (Spanish), ..." for messages."""
    return ", ".join(f"{lang.code} ({lang.english_name})" for lang in _TABLE)
