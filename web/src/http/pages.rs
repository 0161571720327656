//! Server-rendered HTML (maud): the page layout and the pages that are not tied to one route.

use axum::http::StatusCode;
use maud::{DOCTYPE, Markup, html};

use crate::http::auth::CurrentUser;
use crate::i18n::{Lang, Msg};
use crate::storage::Role;

/// The page frame: language, skip link, header with navigation, sign-out and language switch.
pub fn layout(lang: Lang, title: &str, user: Option<&CurrentUser>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.tag()) class=[crate::http::textsize::current().class()] {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — " (Msg::AppName.text(lang)) }
                link rel="stylesheet" href="/static/app.css";
                script src="/static/menu.js" defer {}
            }
            body {
                a.skip href="#main" { (Msg::SkipToContent.text(lang)) }
                header.site {
                    a.brand href="/" { (Msg::AppName.text(lang)) }
                    @match user {
                        Some(u) => (site_menu(lang, u)),
                        None => (lang_switch(lang, None)),
                    }
                }
                main id="main" tabindex="-1" {
                    (maud::PreEscaped(crate::http::cards::label_tables(&body.into_string())))
                }
            }
        }
    }
}

/// The header's menu: one button on a phone (a `<details>`, so it needs no script and the
/// browser tells assistive technology whether it is open); on a wider screen the stylesheet
/// shows its contents inline.
fn site_menu(lang: Lang, u: &CurrentUser) -> Markup {
    html! {
        details.menu #site-menu {
            summary { span aria-hidden="true" { "☰ " } (Msg::Menu.text(lang)) }
            div.menu-body {
                nav aria-label=(Msg::SiteNav.text(lang)) {
                    ul {
                        li { a href="/" { (Msg::Home.text(lang)) } }
                        li { a href="/fields" { (Msg::Fields.text(lang)) } }
                        li { a href="/flights" { (Msg::FlightHistory.text(lang)) } }
                        @if matches!(u.user.role, Role::Admin | Role::Staff | Role::Farmer) {
                            li { a href="/vehicles" { (Msg::Vehicles.text(lang)) } }
                        }
                        @if let (Role::Farmer, Some(farm)) = (u.user.role, u.user.farm_id) {
                            li { a href=(format!("/farms/{farm}/records")) { (Msg::RecNavRecords.text(lang)) } }
                        }
                        @if matches!(u.user.role, Role::Admin | Role::Staff | Role::Dairy) {
                            li { a href="/parlors" { (Msg::Parlors.text(lang)) } }
                        }
                        @if u.user.role.sees_all_farms() {
                            li { a href="/reports" { (Msg::Reports.text(lang)) } }
                        }
                        @if u.user.role == Role::Admin {
                            li { a href="/admin" { (Msg::Admin.text(lang)) } }
                        }
                        li { a href="/account" { (Msg::Account.text(lang)) } }
                        @if let Some(farm) = u.user.farm_id {
                            li { a href=(format!("/farms/{farm}/alerts")) { (Msg::AlertsTitle.text(lang)) } }
                        }
                    }
                }
                span.muted.who { (Msg::SignedInAs.text(lang)) " " (u.user.display_name) }
                form method="post" action="/logout" {
                    input type="hidden" name="csrf" value=(u.csrf_token);
                    button.secondary type="submit" { (Msg::SignOut.text(lang)) }
                }
                (lang_switch(lang, Some(&u.csrf_token)))
                (text_size_form(lang, &u.csrf_token, "menu"))
            }
        }
    }
}

/// The text-size buttons (the chosen one pressed); `id` keeps two on one page apart.
pub fn text_size_form(lang: Lang, csrf: &str, id: &str) -> Markup {
    use crate::http::textsize::{TextSize, current};
    let now = current();
    let label = format!("textsize-{id}");
    html! {
        form.textsize method="post" action="/account/textsize" {
            input type="hidden" name="csrf" value=(csrf);
            div role="group" aria-labelledby=(label) {
                span id=(label) { (Msg::TextSize.text(lang)) }
                @for t in TextSize::ALL {
                    @let name = match t {
                        TextSize::Normal => Msg::TextNormal,
                        TextSize::Large => Msg::TextLarge,
                        TextSize::Larger => Msg::TextLarger,
                    };
                    button.secondary type="submit" name="size" value=(t.tag())
                        aria-pressed=(if t == now { "true" } else { "false" }) { (name.text(lang)) }
                }
            }
        }
    }
}

/// The form that switches to the other language (with the session's token when signed in).
fn lang_switch(lang: Lang, csrf: Option<&str>) -> Markup {
    html! {
        form method="post" action="/lang" {
            input type="hidden" name="lang" value=(lang.other().tag());
            @if let Some(t) = csrf { input type="hidden" name="csrf" value=(t); }
            button.secondary type="submit" lang=(lang.other().tag())
                aria-label=(format!("{}: {}", Msg::Language.text(lang), Msg::LangName.text(lang.other()))) {
                (Msg::LangName.text(lang.other()))
            }
        }
    }
}

/// Minutes and seconds (`m:ss`) of a duration in seconds; negative counts as zero.
pub fn fmt_duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

/// The Leaflet stylesheet and scripts a page with a `data-map` element needs.
pub fn map_assets(lang: Lang) -> Markup {
    use crate::i18n::maps::MapMsg;
    html! {
        // The maps' honest notes when their background cannot be drawn (map.js shows them).
        template #map-notes data-no-tiles=(MapMsg::NoTiles.text(lang)) data-tiles-off=(MapMsg::TilesOff.text(lang))
            data-far-fields=(MapMsg::FarFields.text(lang)) data-show-all=(MapMsg::ShowAll.text(lang)) {}
        link rel="stylesheet" href="/static/vendor/leaflet/leaflet.css";
        script src="/static/vendor/leaflet/leaflet.js" {}
        script src="/static/map.js" defer {}
    }
}

/// A page telling the person what went wrong, in their language.
pub fn error_page(lang: Lang, status: StatusCode, msg: Msg, detail: Option<&str>) -> Markup {
    let title = msg.text(lang);
    layout(
        lang,
        title,
        None,
        html! {
            h1 { (title) }
            div.alert role="alert" {
                p { (title) }
                @if let Some(d) = detail { p { code { (d) } } }
            }
            p.muted { "HTTP " (status.as_u16()) }
            @if status == StatusCode::UNAUTHORIZED {
                p { a href="/login" { (Msg::SignIn.text(lang)) } }
            } @else {
                p { a href="/" { (Msg::Home.text(lang)) } }
            }
        },
    )
}

/// The sign-in form, with an optional error.
pub fn login_page(lang: Lang, error: Option<Msg>, username: &str, csrf: &str) -> Markup {
    let title = Msg::SignIn.text(lang);
    layout(
        lang,
        title,
        None,
        html! {
            h1 { (title) }
            @if let Some(e) = error {
                div.alert role="alert" id="login-error" { (e.text(lang)) }
            }
            form method="post" action="/login" {
                input type="hidden" name="csrf" value=(csrf);
                label for="username" { (Msg::Username.text(lang)) }
                input id="username" name="username" type="text" autocomplete="username"
                    required value=(username)
                    aria-describedby=[error.map(|_| "login-error")];
                label for="password" { (Msg::Password.text(lang)) }
                input id="password" name="password" type="password"
                    autocomplete="current-password" required;
                p { button type="submit" { (title) } }
            }
        },
    )
}

/// The name of district `id` among `districts` in `lang` (empty when unknown).
pub fn district_name(
    districts: &[crate::storage::District],
    id: i64,
    lang: crate::i18n::Lang,
) -> String {
    districts
        .iter()
        .find(|d| d.id == id)
        .map(|d| match lang {
            crate::i18n::Lang::Ja => d.name_ja.clone(),
            crate::i18n::Lang::En => d.name_en.clone(),
        })
        .unwrap_or_default()
}
