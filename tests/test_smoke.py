from tests.web import make_user


def test_signup_login_dashboard(app, web):
    user = make_user(app)
    web.login(user)
    resp = web.get("/")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/w/")
    page = web.get(resp.headers["Location"])
    assert page.status_code == 200
    assert "Seats used" in page.get_data(as_text=True)
