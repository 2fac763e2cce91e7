//! Fuzz the sections parser, the template loader, the renderer and the structural verifier.
//!
//! Invariants checked (a violation panics, which libFuzzer reports):
//! - nothing panics on any input;
//! - sections that pass [`Sections::parse`] always render and verify against the default
//!   template (a failure would be a gap between the per-section checks and the verifier);
//! - a template that passes [`Template::parse`] always renders empty sections.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use runcell::aggregate::{Section, Sections, Template};
use runcell::analyze::Rules;

/// The default rules, loaded once (loading them per input would dominate the run time).
fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(Rules::default)
}

fn parse(text: &str) -> Option<Sections> {
    Sections::parse_with_rules(text, rules()).ok()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Raw text as a sections file.
    check_sections(text);
    // The text split at U+0001 into up to three sections, wrapped with the markers, so that
    // most inputs reach the per-section checks.
    let mut file = String::new();
    let mut parts = text.splitn(3, '\u{1}');
    for section in Section::ALL {
        file.push_str(section.marker());
        file.push('\n');
        file.push_str(parts.next().unwrap_or(""));
        file.push('\n');
    }
    check_sections(&file);
    // Raw text as a template.
    if let Ok(template) = Template::parse(text) {
        let empty = "###Code Before Loop###\n###Loop Code###\n###Code After For Loop###\n";
        if let Some(Err(e)) = parse(empty).map(|s| s.render(&template)) {
            panic!("a valid template does not render empty sections: {e}");
        }
    }
});

fn check_sections(text: &str) {
    if let Some(Err(e)) = parse(text).map(|s| s.render(&Template::default())) {
        panic!("checked sections do not render: {e}\n{text:?}");
    }
}
