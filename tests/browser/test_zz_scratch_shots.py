import re, uuid
from tests.browser.test_upload_flow import _session, _sign_up, _open_new_transcript
from tests.integration.test_transcript_pages import make_transcript
from tests.integration.test_workspaces import workspace_by_slug
from app.transcripts.models import Status

def test_shots(chromium, live_server, app, tmp_path):
    s = _session(chromium, live_server)
    s.page.set_viewport_size({"width": 1200, "height": 900})
    _sign_up(s, "Shot Taker")
    ws = workspace_by_slug(app, s.slug)
    g = uuid.uuid4()
    segs = [(0.0, 2.0, "hello there and welcome to the show", "SPEAKER_00"), (2.0, 4.5, "hi how are you doing today", "SPEAKER_01"), (65.0, 67.0, "fine thanks", "SPEAKER_00")]
    tid = make_transcript(app, ws.id, "Weekly standup", segments=segs, speakers={"SPEAKER_00": "Speaker 1", "SPEAKER_01": "Speaker 2"}, diarize=True, warnings=["Word alignment failed; timings approximate."], timings={"load": 0.5, "transcribe": 2.2}, language="en", language_probability=0.97, container="mp3", compare_group=g)
    make_transcript(app, ws.id, "Weekly standup (small)", segments=segs[:2], compare_group=g, status=Status.PROCESSING, progress=0.4, stage="transcribing")
    make_transcript(app, ws.id, "Broken file", status=Status.FAILED, error="The file has no audio stream.")
    make_transcript(app, ws.id, "Waiting", status=Status.QUEUED)
    s.page.goto(f"/w/{s.slug}/transcripts/")
    s.page.screenshot(path="/tmp/shot-list.png", full_page=True)
    s.page.goto(f"/w/{s.slug}/transcripts/{tid}")
    s.page.screenshot(path="/tmp/shot-show.png", full_page=True)
    s.page.goto(f"/w/{s.slug}/transcripts/compare/{g}")
    s.page.screenshot(path="/tmp/shot-compare.png", full_page=True)
    _open_new_transcript(s)
    s.page.screenshot(path="/tmp/shot-new.png", full_page=True)
    s.page.goto(f"/w/{s.slug}/")
    s.page.screenshot(path="/tmp/shot-dash.png", full_page=True)
    print(s.problems)
