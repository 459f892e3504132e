# ruff: noqa: E501 -- each msgid stays one literal, as the scripts write it (greppable)
"""The strings the browser scripts show, translated for the page they load in.

Each is marked with N_ (a no-op `pybabel extract` knows) so the catalogue has it; base.html
hands the page's language version to the scripts as JSON, and `t()` in static/js/i18n.js
looks a string up by its English.
"""

from __future__ import annotations

import functools

from flask_babel import get_locale, gettext

from app.i18n import N_

JS_STRINGS: tuple[str, ...] = (
    # transcripts.js
    N_("Engine"),
    # upload.js
    N_("%(size)s bytes"),
    N_("%(size)s KB"),
    N_("%(size)s MB"),
    N_("%(size)s GB"),
    N_("%(size)s TB"),
    N_("The request was refused; reload the page and try again."),
    N_("Your role in this workspace cannot start transcripts."),
    N_("This upload no longer exists; start again."),
    N_("That is too large."),
    N_("Too many requests; wait a little and try again."),
    N_("The upload failed (HTTP %(status)s)."),
    N_("Cancel"),
    N_("Upload of %(name)s"),
    N_("Waiting for a free slot…"),
    N_("Checking the file…"),
    N_("Starting…"),
    N_("The server could not be reached; try again later."),
    N_("The connection kept failing; the upload stopped. Try again later."),
    N_("Connection lost; retrying (attempt %(attempt)s of %(attempts)s)…"),
    N_("Uploading…"),
    N_("Cancelled; nothing was kept."),
    N_("Uploaded. The transcript is queued:"),
    N_("Uploaded. The transcript is in the list:"),
    N_("transcript %(number)s"),
    N_("open it"),
    N_("transcripts"),
    N_("compare"),
    N_("Kept on this device for playback."),
    # recorder.js
    N_("Recording is not available in this browser (it needs a secure https page)."),
    N_("Nothing was recorded."),
    N_("Recorded %(length)s. Uploading…"),
    N_("Recording %(when)s"),
    N_("The browser may not use the microphone here. Allow it in the site settings and try again."),
    N_("No microphone could be opened."),
    N_("The recording stopped because of an error in the browser."),
    N_("Recording… press Stop when you are done."),
    # search.js
    N_("The server could not be reached. Check the connection and try again."),
    # ai.js
    N_("The answer could not be followed. Reload the page to see it."),
    N_("The answer failed."),
    N_("Copy"),
    N_("Copied"),
    N_("Copying failed: download it instead"),
    # editor.js
    N_("Saved. Others have saved changes too:"),
    N_("reload to see them"),
    N_(
        "This segment is no longer in the transcript. Your text is below: copy it before you reload."
    ),
    N_("Unsaved changes…"),
    N_("Saving…"),
    N_("Not saved: the connection failed. Trying again…"),
    N_("Saved"),
    N_("Not saved: you were signed out. Sign in again in another tab, then save."),
    N_("Conflict: choose a version"),
    N_("Not saved"),
    N_("Splitting…"),
    N_("Not split"),
    N_("Split"),
    N_("Choose a version for the segment in conflict first."),
    N_("Segment text: Enter edits it"),
    # player.js
    N_("Low confidence: %(percent)s%%"),
    N_("Recording: %(name)s"),
    N_("This browser cannot play “%(name)s”. A copy in another format (MP3, M4A, WebM) may work."),
    N_(
        "Playing “%(name)s” from this device. It is kept in this browser for next time and never uploaded."
    ),
    N_(
        "Playing “%(name)s” from this device. It is not uploaded, and not kept: you will choose it again next time."
    ),
    N_(
        "This file is %(length)s long but the transcript is of %(expected)s: is it the same recording? Times may not line up."
    ),
    N_("Kept in this browser; it plays here next time without asking."),
    N_(
        "This browser could not keep the file (not enough space, or private browsing). It still plays now; choose it again next time."
    ),
    N_("Forgotten: this browser no longer keeps a copy for this transcript."),
    N_("“%(name)s” is not an audio or video file; choose the recording."),
    # private/keyring.js
    N_("You were signed out. Sign in again."),
    N_("Could not load your keyring (%(status)s)."),
    N_("Passphrase"),
    N_("Recovery key"),
    N_("Unlock Private Transcript"),
    N_(
        "Your passphrase opens your private transcripts in this browser for up to %(hours)s hours. It never leaves this browser."
    ),
    N_("Unlock"),
    N_("Use recovery key"),
    N_("Use passphrase"),
    N_("That passphrase does not unlock your keyring. Check it and try again."),
    N_("That recovery key does not unlock your keyring. Check it and try again."),
    N_("Enter your recovery key."),
    N_("Enter your passphrase."),
    N_("Unlocking…"),
    # private/account.js
    N_("The server could not be reached. Check your connection and try again."),
    N_("The server refused (%(status)s)."),
    N_(
        "Your passphrase needs at least %(min)s characters. A few unrelated words are long and easy to remember."
    ),
    N_("The two new passphrases differ. Type the same one twice."),
    N_("That recovery key does not open your keyring. Check it and try again."),
    N_("That is not your current passphrase. Check it and try again."),
    N_("Private Transcript is not on any more."),
    N_("Account:"),
    N_("Made:"),
    N_('Use it at %(url)s ("%(label)s").'),
    N_("Forgot passphrase? Use recovery key"),
    N_("Verbatim - Private Transcript recovery key"),
    N_("This key opens your private transcripts if you forget your passphrase."),
    N_("Keep it safe and away from this computer: anyone who has it can read them."),
    N_(
        "If you lose both this key and your passphrase, nobody can recover your private transcripts, including Verbatim."
    ),
    N_("Copied."),
    N_("Selected: press Ctrl+C (or ⌘C) to copy."),
    N_("Downloaded %(file)s."),
    N_("Making your keys…"),
    N_("Changing…"),
    N_("Enter your current passphrase."),
    N_("The new passphrase is the same as the current one."),
    N_("Passphrase changed. Use the new one from now on; the old one no longer works."),
    N_("Setting…"),
    N_("Your new passphrase is set, and your private transcripts are unlocked in this browser."),
    N_("Making…"),
    N_("Your new recovery key is saved. The old one no longer works."),
    N_("Saved: new transcripts are private unless you choose otherwise."),
    N_("Saved: new transcripts are not private unless you choose so."),
    N_("Unlocked in this browser until %(until)s."),
    N_("Locked in this browser: private transcripts ask for your passphrase before they open."),
    # private/crypto.js
    N_("The encrypted data is too short to be valid."),
    N_(
        "This does not open with your key: a wrong passphrase or key, or data that was changed or moved."
    ),
    N_("Unsupported key derivation cost: %(iterations)s iterations."),
    N_("The key derivation salt must be %(bytes)s bytes."),
    N_("A recovery key is 52 letters and digits (2-7) in groups of four."),
    N_("The decrypted transcript is not readable."),
    N_("Not an encrypted transcript."),
    N_("Unsupported encryption format version %(version)s."),
    N_("Unknown kind of encrypted transcript."),
    N_("The encrypted transcript is truncated."),
    N_("The encrypted transcript names an invalid key."),
    # private/document.js
    N_("The decrypted transcript is not a transcript document."),
    N_(
        "This transcript was saved in a newer format (version %(version)s); reload the page to update."
    ),
    N_("The decrypted transcript has no list of segments."),
    N_("The decrypted transcript has a malformed segment."),
    N_("There is no segment %(index)s in this transcript."),
    N_("A segment cannot be empty."),
    N_("A segment holds at most %(max)s characters (%(given)s given)."),
    N_("A speaker's name must be 1 to %(max)s characters."),
    N_("There is no speaker %(label)s in this transcript."),
    # private/transcript.js
    N_("the server answered %(status)s"),
    N_("Not saved: choose a version"),
    N_("Try again"),
    N_("Private Transcript settings"),
    N_("Decrypting in this browser…"),
    N_("Decrypted in this browser."),
    N_("Something went wrong: %(error)s"),
    N_("Your keyring could not be loaded: %(error)s"),
    N_(
        "Private Transcript is not set up on your account any more (it was reset), so this transcript cannot be opened."
    ),
    N_(
        "This transcript was encrypted for a keyring that has since been reset: your current keys cannot open it. Only the passphrase or recovery key of the old keyring could, and those no longer exist here."
    ),
    N_("The encrypted transcript could not be loaded: the server could not be reached."),
    N_("The encrypted transcript could not be loaded: %(reason)s"),
    N_("Your Private Transcript keys are locked: unlock them to read this transcript."),
    N_("Your keys could not be unlocked: %(error)s"),
    N_("This transcript could not be decrypted with your key: %(error)s"),
    N_("Your Private Transcript keys were locked: unlock them to read this transcript."),
    N_("No speech was found in this recording."),
    N_("Change who said this"),
    N_("No speaker"),
    N_("Double-click a word or press Enter to edit"),
    N_("Name of %(speaker)s"),
    N_("Rename"),
    N_("Text at %(time)s"),
    N_("Speaker at %(time)s"),
    N_("New speaker…"),
    N_("%(label)s is now called %(name)s. Saving…"),
    N_("Storing it under your key…"),
    N_("Not saved: the server could not be reached. Trying again shortly…"),
    N_("Decrypted in this browser and stored under your key."),
    N_("Not saved: %(reason)s"),
    N_("Reload theirs"),
    N_("Keep mine (overwrite)"),
    N_(
        "Reload theirs to see the saved version (your changes here are dropped), or keep yours and overwrite it."
    ),
)


def js_catalogue() -> dict[str, str]:
    """English → this page's language, for the strings that differ (English pages: none).
    Built once per language and process: every page (and partial) renders it."""
    return _catalogue(str(get_locale() or ""))


@functools.cache
def _catalogue(_locale: str) -> dict[str, str]:  # the key: gettext reads the locale itself
    out: dict[str, str] = {}
    for english in JS_STRINGS:
        text = gettext(english)
        if text != english:
            out[english] = text
    return out
