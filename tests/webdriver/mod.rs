//! A small W3C WebDriver client over blocking HTTP, enough to drive
//! Debian's Chromium through `chromedriver` in the end-to-end UI tests:
//! sessions, elements, real key events, actions, scripts and screenshots.
//!
//! Written against the WebDriver spec (<https://www.w3.org/TR/webdriver2/>)
//! rather than pulled in as a crate: the handful of commands used here
//! are plain JSON over HTTP.

#![allow(dead_code)] // each test file uses a different part

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

/// The key the spec gives element references in JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// WebDriver's code points for special keys.
pub mod keys {
    pub const TAB: &str = "\u{E004}";
    pub const ENTER: &str = "\u{E007}";
    pub const CONTROL: &str = "\u{E009}";
    pub const BACKSPACE: &str = "\u{E003}";
    pub const ARROW_DOWN: &str = "\u{E015}";
}

/// How long [`Session::wait`] polls before failing.
pub const WAIT: Duration = Duration::from_secs(20);

/// The first of `names` that is an existing file or found on `PATH`.
fn find_program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        // A path given explicitly is used or refused, never replaced.
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        let p = Path::new(name);
        if p.is_absolute() && p.is_file() {
            return Some(p.to_path_buf());
        }
        for dir in std::env::split_paths(&path) {
            let c = dir.join(name);
            if c.is_file() {
                return Some(c);
            }
        }
    }
    None
}

/// A free loopback port (bound, read, released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `chromedriver`, killed on drop.
pub struct Driver {
    child: Child,
    base: String,
    chromium: PathBuf,
    http: reqwest::blocking::Client,
}

impl Driver {
    /// Starts `chromedriver` (`$CHROMEDRIVER` or on `PATH`) for Chromium
    /// (`$CHROMIUM` or on `PATH`). Panics with install instructions when
    /// either is missing: the UI test must not pass without a browser.
    pub fn start() -> Driver {
        const HOW: &str = "install them with `apt-get install -y chromium chromium-driver` \
            (.ci/run does), or point $CHROMIUM and $CHROMEDRIVER at them";
        let chromium = find_program(
            "CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        )
        .unwrap_or_else(|| panic!("the web UI end-to-end test needs Chromium: {HOW}"));
        let driver = find_program(
            "CHROMEDRIVER",
            &["chromedriver", "/usr/lib/chromium/chromedriver"],
        )
        .unwrap_or_else(|| panic!("the web UI end-to-end test needs chromedriver: {HOW}"));
        let port = free_port();
        let child = Command::new(&driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver.display()));
        let d = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            chromium,
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        };
        let deadline = Instant::now() + WAIT;
        loop {
            let ready = d.http.get(format!("{}/status", d.base)).send().ok();
            let ready = ready.and_then(|r| r.json::<Value>().ok());
            if ready.is_some_and(|v| v["value"]["ready"] == true) {
                return d;
            }
            assert!(Instant::now() < deadline, "chromedriver never became ready");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Opens a headless Chromium window of 1280x900.
    pub fn session(&self) -> Session {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": self.chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,900",
                         "--no-first-run", "--disable-extensions"],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let resp: Value = self
            .http
            .post(format!("{}/session", self.base))
            .json(&caps)
            .send()
            .and_then(|r| r.json())
            .unwrap_or_else(|e| panic!("new session: {e}"));
        let id = resp["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("new session refused: {resp}"));
        Session {
            url: format!("{}/session/{id}", self.base),
            http: self.http.clone(),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An element reference.
#[derive(Clone, Debug)]
pub struct Element(String);

/// One browser window; closed (with its Chromium) on drop.
pub struct Session {
    url: String,
    http: reqwest::blocking::Client,
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.http.delete(&self.url).send();
    }
}

impl Session {
    /// Sends one command; panics with the driver's error message.
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.url);
        let req = match method {
            "GET" => self.http.get(&url),
            _ => self.http.post(&url).json(&body.unwrap_or(json!({}))),
        };
        let v: Value = req
            .send()
            .and_then(|r| r.json())
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        if let Some(err) = v["value"]["error"].as_str() {
            panic!("{method} {path}: {err}: {}", v["value"]["message"]);
        }
        v["value"].clone()
    }

    /// Navigates to `url`.
    pub fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({"url": url})));
    }

    /// All elements matching a CSS selector.
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        let v = self.cmd(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT_KEY].as_str().map(|s| Element(s.to_string())))
            .collect()
    }

    /// The one element matching `css`, waiting for it to exist.
    pub fn find(&self, css: &str) -> Element {
        self.wait(&format!("an element {css}"), || {
            self.find_all(css).into_iter().next()
        })
    }

    /// Types `text` into an element with real key events.
    pub fn send_keys(&self, el: &Element, text: &str) {
        let path = format!("/element/{}/value", el.0);
        self.cmd("POST", &path, Some(json!({"text": text})));
    }

    /// Clicks an element.
    pub fn click(&self, el: &Element) {
        self.cmd("POST", &format!("/element/{}/click", el.0), None);
    }

    /// Clears an input or textarea.
    pub fn clear(&self, el: &Element) {
        self.cmd("POST", &format!("/element/{}/clear", el.0), None);
    }

    /// An element's rendered text.
    pub fn text(&self, el: &Element) -> String {
        let v = self.cmd("GET", &format!("/element/{}/text", el.0), None);
        v.as_str().unwrap_or_default().to_string()
    }

    /// Runs a script (its `arguments` are `args`) and returns its result.
    pub fn script(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Runs an async script: it calls its last argument with the result.
    pub fn script_async(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Moves the mouse to an element's centre, offset by (dx, dy) pixels.
    pub fn hover(&self, el: &Element, dx: i64, dy: i64) {
        let origin = json!({ ELEMENT_KEY: el.0 });
        let actions = json!({"actions": [{"type": "pointer", "id": "mouse",
            "parameters": {"pointerType": "mouse"},
            "actions": [{"type": "pointerMove", "duration": 50, "origin": origin, "x": dx, "y": dy}]}]});
        self.cmd("POST", "/actions", Some(actions));
    }

    /// Saves a PNG screenshot of the window to `path` and returns it.
    pub fn screenshot(&self, path: &Path) -> PathBuf {
        let v = self.cmd("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .expect("screenshot is base64");
        assert!(png.starts_with(b"\x89PNG"), "screenshot is not a PNG");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
        path.to_path_buf()
    }

    /// The browser console so far (for failure messages).
    pub fn console(&self) -> String {
        let url = format!("{}/se/log", self.url);
        let v: Value = self
            .http
            .post(url)
            .json(&json!({"type": "browser"}))
            .send()
            .and_then(|r| r.json())
            .unwrap_or(Value::Null);
        v["value"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| format!("{} {}", e["level"], e["message"]))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Polls `probe` until it gives `Some`, or panics naming `what` with
    /// the page's console.
    pub fn wait<T>(&self, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(v) = probe() {
                return v;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; console:\n{}", self.console());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `script` returns `want`, and returns it.
    pub fn wait_script(&self, what: &str, script: &str, want: &Value) {
        let deadline = Instant::now() + WAIT;
        loop {
            let last = self.script(script, json!([]));
            if &last == want {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}: want {want}, last {last}; console:\n{}",
                    self.console()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
