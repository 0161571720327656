//! Japanese-first user-facing text with English alongside: one [`Lang`] per request and one
//! [`Msg`] per sentence, so a missing translation is a compile error, not a blank page.

use serde::{Deserialize, Serialize};

/// A language the pages speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// 日本語 (the default).
    #[default]
    Ja,
    /// English.
    En,
}

impl Lang {
    /// The BCP 47 tag (`ja`, `en`) for `<html lang>` and storage.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    /// Parses a tag; anything but `en…` is Japanese.
    pub fn from_tag(tag: &str) -> Lang {
        if tag.trim().to_ascii_lowercase().starts_with("en") {
            Lang::En
        } else {
            Lang::Ja
        }
    }

    /// The language to offer as the switch target.
    pub fn other(self) -> Lang {
        match self {
            Lang::Ja => Lang::En,
            Lang::En => Lang::Ja,
        }
    }

    /// The first language of an `Accept-Language` header that we speak, else Japanese.
    pub fn from_accept_language(header: &str) -> Lang {
        for part in header.split(',') {
            let tag = part
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if tag.starts_with("ja") {
                return Lang::Ja;
            }
            if tag.starts_with("en") {
                return Lang::En;
            }
        }
        Lang::Ja
    }
}

/// Every sentence the server shows a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Msg {
    /// The product name.
    AppName,
    /// The name of the switch-to language, written in that language.
    LangName,
    /// "Skip to main content" link.
    SkipToContent,
    /// Sign-in page title and button.
    SignIn,
    /// Sign-out button.
    SignOut,
    /// Username label.
    Username,
    /// Password label.
    Password,
    /// Wrong username or password.
    BadCredentials,
    /// Too many sign-in attempts.
    TooManyAttempts,
    /// Please sign in.
    SignInRequired,
    /// Not allowed for this role or farm.
    Forbidden,
    /// Page not found.
    NotFound,
    /// The form was stale or forged (CSRF).
    StaleForm,
    /// A form or API field was malformed.
    BadInput,
    /// Something conflicts with existing data.
    Conflict,
    /// An unexpected server error.
    ServerError,
    /// Home page title.
    Home,
    /// Signed in as …
    SignedInAs,
    /// Farms heading.
    Farms,
    /// Districts heading.
    Districts,
    /// Parlors heading.
    Parlors,
    /// Language switch label.
    Language,
    /// Platform state.
    PlatformState,
    /// Cows per hour.
    CowsPerHour,
    /// Milk per hour.
    KgPerHour,
    /// Rotation time.
    RotationTime,
    /// Bail occupancy.
    Occupancy,
    /// Cows milked today.
    CowsToday,
    /// Milk today.
    MilkToday,
    /// High-conductivity alerts today.
    AlertsToday,
    /// Connection to the parlor.
    Connection,
    /// Online.
    Online,
    /// Offline.
    Offline,
    /// Last update.
    LastUpdate,
    /// Today's throughput chart title.
    TodayChart,
    /// Past days chart title.
    DaysChart,
    /// Hour of day axis.
    HourOfDay,
    /// Date axis.
    Date,
    /// Cows axis unit.
    CowsUnit,
    /// Milking sessions heading.
    MilkingSessions,
    /// Session start.
    Start,
    /// Session end.
    End,
    /// Cows.
    Cows,
    /// Milk kg.
    MilkKg,
    /// Offline periods heading.
    OfflinePeriods,
    /// Controller restarted.
    ControllerRestarted,
    /// No data yet.
    NoDataYet,
    /// The chart's numbers as a table.
    ChartAsTable,
    /// Farm.
    Farm,
    /// Bails.
    Bails,
    /// Administration.
    Admin,
    /// Users heading.
    Users,
    /// Add a farm.
    AddFarm,
    /// Add a user.
    AddUser,
    /// Name.
    Name,
    /// Kind of farm.
    FarmKind,
    /// Address.
    Address,
    /// Role.
    RoleLabel,
    /// Display name.
    DisplayName,
    /// Created.
    Created,
    /// Bridge tokens heading.
    BridgeTokens,
    /// Create a bridge token.
    AddToken,
    /// The token is shown only once.
    TokenShownOnce,
    /// None.
    NoneChoice,
    /// Fields heading.
    Fields,
    /// Import fields.
    ImportFields,
    /// File with fields.
    FieldFile,
    /// Draw a field.
    DrawField,
    /// Drawing help.
    DrawHelp,
    /// Or paste GeoJSON.
    PasteGeoJson,
    /// Clear the drawing.
    ClearDrawing,
    /// Crop.
    Crop,
    /// Area.
    AreaHa,
    /// Fude polygon id.
    FudeId,
    /// Land type.
    LandType,
    /// Save.
    Save,
    /// Fields imported.
    FieldsImported,
    /// Some features could not be read.
    FieldErrors,
    /// Nothing to import.
    NothingToImport,
    /// Map.
    Map,
    /// Plan a spray flight.
    PlanSpray,
    /// Swath width.
    SwathWidth,
    /// Application rate L/10a.
    RateL10a,
    /// Tank litres.
    TankL,
    /// Battery endurance minutes.
    EnduranceMin,
    /// Spray speed.
    SpeedMps,
    /// Spray height.
    HeightM,
    /// Headland passes.
    HeadlandPasses,
    /// Drift buffer.
    DriftBufferM,
    /// Autopilot.
    Autopilot,
    /// Make the plan.
    MakePlan,
    /// Plans heading.
    Plans,
    /// Plan.
    PlanWord,
    /// Sprayable area.
    SprayableHa,
    /// Swaths.
    Swaths,
    /// Flight path length.
    PathM,
    /// Flight time.
    FlightTime,
    /// Litres needed.
    Litres,
    /// Sorties.
    Sorties,
    /// Coverage.
    Coverage,
    /// Downloads.
    Downloads,
    /// The planner refused the field.
    PlanFailed,
    /// Map legend.
    Legend,
    /// Legend: spraying.
    LegendSpray,
    /// Legend: transit, spray off.
    LegendTransit,
    /// Legend: no-fly zone.
    LegendExclusion,
    /// District overview heading.
    DistrictOverview,
    /// Flights heading.
    Flights,
    /// Record a flown flight from its .tlog.
    RecordFlight,
    /// The .tlog file.
    TlogFile,
    /// Flight word.
    FlightWord,
    /// Duration.
    Duration,
    /// Distance flown.
    DistanceM,
    /// Battery at start and end.
    Battery,
    /// Spraying time.
    SprayingTime,
    /// Planned spray area.
    PlannedM2,
    /// Sprayed area.
    SprayedM2,
    /// Covered share of the plan.
    CoveredPct,
    /// Gaps.
    GapsM2,
    /// Overlaps.
    OverlapsM2,
    /// Sprayed outside the plan.
    OffTargetM2,
    /// Warnings from the vehicle.
    VehicleWarnings,
    /// Replay.
    Replay,
    /// Legend: flown while spraying.
    LegendTrackSpray,
    /// Legend: flown, pump off.
    LegendTrackOff,
    // --- reports ---
    /// Regional reports page and nav link.
    Reports,
    /// Year chooser label.
    ReportYear,
    /// Period chooser label.
    ReportPeriod,
    /// Whole calendar year.
    PeriodYear,
    /// Spring.
    SeasonSpring,
    /// Summer.
    SeasonSummer,
    /// Autumn.
    SeasonAutumn,
    /// Winter.
    SeasonWinter,
    /// Show button.
    ShowReport,
    /// Table: by district.
    ReportByDistrict,
    /// Table: by district and month.
    ReportByDistrictMonth,
    /// Table: litres by pesticide.
    ReportByPesticide,
    /// Table: by farm.
    ReportByFarm,
    /// Table: by month.
    ReportByMonth,
    /// Month column.
    Month,
    /// Farms served by spraying.
    FarmsSprayed,
    /// Number of flights.
    FlightsCount,
    /// Sprayed hectares.
    SprayedHa,
    /// Dairy farms reporting.
    DairyFarms,
    /// Cows milked.
    CowsMilked,
    /// Average cows per online hour.
    AvgCowsPerHour,
    /// Parlor uptime.
    UptimePct,
    /// High-conductivity alerts.
    AlertsCount,
    /// Pesticide name.
    Pesticide,
    /// Pesticide registration number.
    RegNo,
    /// Pesticide not recorded.
    NotRecorded,
    /// Total row.
    Total,
    /// CSV download link.
    DownloadCsv,
    /// Chart: sprayed hectares by month.
    ChartSprayedByMonth,
    /// Chart: milk by month.
    ChartMilkByMonth,
    /// Charts' text alternative pointer.
    ChartTableBelow,
    /// How seasons, uptime and cows per hour are defined.
    ReportDefinitions,
    /// No data in the period.
    NoReportData,
    /// Link to a finer report.
    DrillDown,
    /// Open data page.
    OpenData,
    /// What the open data is.
    OpenDataIntro,
    /// The suppression rule.
    OpenDataSuppression,
    /// Schema link.
    OpenDataSchema,
    /// Marker explanation: no time recorded.
    NotApplicable,
}

/// The name of district `id` among `districts` in `lang` (empty when unknown).
pub fn district_name(districts: &[crate::storage::District], id: i64, lang: Lang) -> String {
    districts
        .iter()
        .find(|d| d.id == id)
        .map(|d| match lang {
            Lang::Ja => d.name_ja.clone(),
            Lang::En => d.name_en.clone(),
        })
        .unwrap_or_default()
}

/// The name of a role.
pub fn role_name(lang: Lang, role: &str) -> &'static str {
    let (ja, en) = match role {
        "admin" => ("管理者", "Administrator"),
        "staff" => ("市職員", "City staff"),
        "farmer" => ("農家", "Farmer"),
        "dairy" => ("酪農家", "Dairy operator"),
        _ => ("不明", "Unknown"),
    };
    match lang {
        Lang::Ja => ja,
        Lang::En => en,
    }
}

/// The name of a farm kind (`crop`, `dairy`, `mixed`).
pub fn farm_kind_name(lang: Lang, kind: &str) -> &'static str {
    let (ja, en) = match kind {
        "crop" => ("耕種（水稲・畑作）", "Crops (rice, upland)"),
        "dairy" => ("酪農", "Dairy"),
        "mixed" => ("複合", "Mixed"),
        _ => ("不明", "Unknown"),
    };
    match lang {
        Lang::Ja => ja,
        Lang::En => en,
    }
}

/// The name of a canonical platform state (`off`, `running`, `stopped`, `washing`, `fault`).
pub fn platform_state(lang: Lang, state: &str) -> &'static str {
    let (ja, en) = match state {
        "running" => ("稼働中", "Running"),
        "stopped" => ("一時停止", "Stopped"),
        "washing" => ("洗浄中", "Washing"),
        "fault" => ("異常", "Fault"),
        "off" => ("休止", "Off"),
        _ => ("不明", "Unknown"),
    };
    match lang {
        Lang::Ja => ja,
        Lang::En => en,
    }
}

impl Msg {
    /// The sentence in `lang`.
    pub fn text(self, lang: Lang) -> &'static str {
        let (ja, en) = match self {
            Msg::AppName => ("那須塩原 農業支援", "Nasushiobara farm support"),
            Msg::LangName => ("日本語", "English"),
            Msg::SkipToContent => ("本文へ移動", "Skip to main content"),
            Msg::SignIn => ("ログイン", "Sign in"),
            Msg::SignOut => ("ログアウト", "Sign out"),
            Msg::Username => ("ユーザー名", "Username"),
            Msg::Password => ("パスワード", "Password"),
            Msg::BadCredentials => (
                "ユーザー名またはパスワードが違います。",
                "Wrong username or password.",
            ),
            Msg::TooManyAttempts => (
                "ログインの試行が多すぎます。しばらく待ってからもう一度お試しください。",
                "Too many sign-in attempts. Please wait a while and try again.",
            ),
            Msg::SignInRequired => ("ログインしてください。", "Please sign in."),
            Msg::Forbidden => (
                "このページを見る権限がありません。",
                "You are not allowed to see this page.",
            ),
            Msg::NotFound => ("ページが見つかりません。", "Page not found."),
            Msg::StaleForm => (
                "フォームの有効期限が切れました。もう一度送信してください。",
                "The form has expired. Please submit it again.",
            ),
            Msg::BadInput => ("入力内容に誤りがあります。", "Some input is not valid."),
            Msg::Conflict => (
                "既存のデータと重複しています。",
                "This conflicts with existing data.",
            ),
            Msg::ServerError => (
                "サーバーで問題が発生しました。時間をおいてお試しください。",
                "Something went wrong on the server. Please try again later.",
            ),
            Msg::Home => ("ホーム", "Home"),
            Msg::SignedInAs => ("ログイン中:", "Signed in as"),
            Msg::Farms => ("農家・牧場", "Farms"),
            Msg::Districts => ("地区", "Districts"),
            Msg::Parlors => ("ロータリーパーラー", "Rotary parlors"),
            Msg::Language => ("言語", "Language"),
            Msg::PlatformState => ("プラットフォーム", "Platform"),
            Msg::CowsPerHour => ("頭/時", "cows/h"),
            Msg::KgPerHour => ("kg/時", "kg/h"),
            Msg::RotationTime => ("1回転の時間", "Rotation time"),
            Msg::Occupancy => ("ストール使用率", "Bail occupancy"),
            Msg::CowsToday => ("本日の搾乳頭数", "Cows milked today"),
            Msg::MilkToday => ("本日の乳量", "Milk today"),
            Msg::AlertsToday => ("本日の高電導度アラート", "High-conductivity alerts today"),
            Msg::Connection => ("通信", "Connection"),
            Msg::Online => ("接続中", "Online"),
            Msg::Offline => ("通信途絶", "Offline"),
            Msg::LastUpdate => ("最終更新", "Last update"),
            Msg::TodayChart => ("本日の時間別搾乳頭数", "Cows milked per hour today"),
            Msg::DaysChart => ("過去14日間の搾乳頭数", "Cows milked per day, last 14 days"),
            Msg::HourOfDay => ("時刻", "Hour"),
            Msg::Date => ("日付", "Date"),
            Msg::CowsUnit => ("頭", "cows"),
            Msg::MilkingSessions => ("搾乳セッション", "Milking sessions"),
            Msg::Start => ("開始", "Start"),
            Msg::End => ("終了", "End"),
            Msg::Cows => ("頭数", "Cows"),
            Msg::MilkKg => ("乳量 (kg)", "Milk (kg)"),
            Msg::OfflinePeriods => ("通信途絶の期間", "Offline periods"),
            Msg::ControllerRestarted => ("制御盤の再起動あり", "controller restarted"),
            Msg::NoDataYet => ("まだデータがありません。", "No data yet."),
            Msg::ChartAsTable => ("グラフの数値（表）", "The chart's numbers as a table"),
            Msg::Farm => ("農場", "Farm"),
            Msg::Bails => ("ストール数", "Bails"),
            Msg::Admin => ("管理", "Administration"),
            Msg::Users => ("ユーザー", "Users"),
            Msg::AddFarm => ("農場を登録", "Add a farm"),
            Msg::AddUser => ("ユーザーを追加", "Add a user"),
            Msg::Name => ("名前", "Name"),
            Msg::FarmKind => ("種別", "Kind"),
            Msg::Address => ("住所", "Address"),
            Msg::RoleLabel => ("役割", "Role"),
            Msg::DisplayName => ("表示名", "Display name"),
            Msg::Created => ("登録しました。", "Saved."),
            Msg::BridgeTokens => ("パーラー連携トークン", "Parlor bridge tokens"),
            Msg::AddToken => ("トークンを発行", "Issue a token"),
            Msg::TokenShownOnce => (
                "このトークンは一度しか表示されません。ブリッジの設定に保存してください:",
                "This token is shown only once. Put it in the bridge's configuration:",
            ),
            Msg::NoneChoice => ("なし", "None"),
            Msg::Fields => ("ほ場", "Fields"),
            Msg::ImportFields => ("ほ場を取り込む", "Import fields"),
            Msg::FieldFile => (
                "ファイル（GeoJSON・KML・KMZ・筆ポリゴン）",
                "File (GeoJSON, KML, KMZ, fude polygons)",
            ),
            Msg::DrawField => ("地図に描く", "Draw on the map"),
            Msg::DrawHelp => (
                "地図をクリックして、ほ場の角を順に指定してください（3点以上）。",
                "Click the map at each corner of the field, in order (3 or more).",
            ),
            Msg::PasteGeoJson => (
                "GeoJSON を貼り付け（地図で描くと自動で入ります）",
                "Or paste GeoJSON (drawing fills this in)",
            ),
            Msg::ClearDrawing => ("描き直す", "Clear the drawing"),
            Msg::Crop => ("作物", "Crop"),
            Msg::AreaHa => ("面積 (ha)", "Area (ha)"),
            Msg::FudeId => ("筆ポリゴンID", "Fude polygon id"),
            Msg::LandType => ("耕地の種類", "Land type"),
            Msg::Save => ("保存", "Save"),
            Msg::FieldsImported => ("ほ場を取り込みました:", "Fields imported:"),
            Msg::FieldErrors => (
                "読み込めなかった図形があります:",
                "Some shapes could not be read:",
            ),
            Msg::NothingToImport => (
                "ファイルを選ぶか、地図に描くか、GeoJSON を貼り付けてください。",
                "Choose a file, draw on the map or paste GeoJSON.",
            ),
            Msg::Map => ("地図", "Map"),
            Msg::PlanSpray => ("散布飛行を計画する", "Plan a spray flight"),
            Msg::SwathWidth => ("散布幅 (m)", "Swath width (m)"),
            Msg::RateL10a => ("散布量 (L/10a)", "Rate (L/10a)"),
            Msg::TankL => ("タンク容量 (L)", "Tank (L)"),
            Msg::EnduranceMin => ("バッテリー飛行時間 (分)", "Battery endurance (min)"),
            Msg::SpeedMps => ("散布速度 (m/s)", "Spray speed (m/s)"),
            Msg::HeightM => ("散布高度 (m)", "Spray height (m)"),
            Msg::HeadlandPasses => ("外周の周回数", "Headland passes"),
            Msg::DriftBufferM => ("ドリフト緩衝帯 (m)", "Drift buffer (m)"),
            Msg::Autopilot => ("フライトコントローラ", "Autopilot"),
            Msg::MakePlan => ("計画を作る", "Make the plan"),
            Msg::Plans => ("散布計画", "Spray plans"),
            Msg::PlanWord => ("計画", "Plan"),
            Msg::SprayableHa => ("散布面積 (ha)", "Sprayable (ha)"),
            Msg::Swaths => ("散布列", "Swaths"),
            Msg::PathM => ("飛行距離 (m)", "Path (m)"),
            Msg::FlightTime => ("飛行時間", "Flight time"),
            Msg::Litres => ("薬液量 (L)", "Liquid (L)"),
            Msg::Sorties => ("フライト回数", "Sorties"),
            Msg::Coverage => ("散布カバー率", "Coverage"),
            Msg::Downloads => ("ミッションファイル", "Mission files"),
            Msg::PlanFailed => ("このほ場は計画できません:", "This field cannot be planned:"),
            Msg::Legend => ("凡例", "Legend"),
            Msg::LegendSpray => ("散布（色はフライトごと）", "spraying (colour per sortie)"),
            Msg::LegendTransit => ("移動・散布停止", "transit, spray off"),
            Msg::LegendExclusion => ("飛行禁止区域", "no-fly zone"),
            Msg::DistrictOverview => ("地区別の概況（本日）", "Districts at a glance (today)"),
            Msg::Flights => ("飛行記録", "Flights"),
            Msg::RecordFlight => (
                "飛行ログ（.tlog）から飛行を記録",
                "Record a flight from its log (.tlog)",
            ),
            Msg::TlogFile => ("飛行ログ (.tlog)", "Flight log (.tlog)"),
            Msg::FlightWord => ("飛行", "Flight"),
            Msg::Duration => ("飛行時間", "Duration"),
            Msg::DistanceM => ("飛行距離 (m)", "Distance (m)"),
            Msg::Battery => ("バッテリー（開始→終了）", "Battery (start → end)"),
            Msg::SprayingTime => ("散布時間", "Spraying time"),
            Msg::PlannedM2 => ("計画散布面積 (m²)", "Planned (m²)"),
            Msg::SprayedM2 => ("実散布面積 (m²)", "Sprayed (m²)"),
            Msg::CoveredPct => ("計画に対する散布率", "Plan covered"),
            Msg::GapsM2 => ("散布もれ (m²)", "Gaps (m²)"),
            Msg::OverlapsM2 => ("重複散布 (m²)", "Overlaps (m²)"),
            Msg::OffTargetM2 => ("計画外への散布 (m²)", "Off target (m²)"),
            Msg::VehicleWarnings => ("機体からの警告", "Warnings from the vehicle"),
            Msg::Replay => (
                "飛行の再生（スライダーで時刻を選択）",
                "Replay (choose a moment with the slider)",
            ),
            Msg::LegendTrackSpray => ("飛行経路（散布中）", "flown, spraying"),
            Msg::LegendTrackOff => ("飛行経路（散布停止）", "flown, pump off"),
            // --- reports ---
            Msg::Reports => ("地域レポート", "Regional reports"),
            Msg::ReportYear => ("年", "Year"),
            Msg::ReportPeriod => ("期間", "Period"),
            Msg::PeriodYear => ("通年（1〜12月）", "whole year (January–December)"),
            Msg::SeasonSpring => ("春（3〜5月）", "spring (March–May)"),
            Msg::SeasonSummer => ("夏（6〜8月）", "summer (June–August)"),
            Msg::SeasonAutumn => ("秋（9〜11月）", "autumn (September–November)"),
            Msg::SeasonWinter => (
                "冬（12月〜翌年2月）",
                "winter (December–February of the next year)",
            ),
            Msg::ShowReport => ("表示", "Show"),
            Msg::ReportByDistrict => ("地区別の集計", "By district"),
            Msg::ReportByDistrictMonth => ("地区・月別の集計", "By district and month"),
            Msg::ReportByPesticide => ("農薬別の散布量", "Liquid applied by pesticide"),
            Msg::ReportByFarm => ("農家・牧場別の集計", "By farm"),
            Msg::ReportByMonth => ("月別の集計", "By month"),
            Msg::Month => ("月", "Month"),
            Msg::FarmsSprayed => ("散布農家数", "Farms sprayed"),
            Msg::FlightsCount => ("飛行回数", "Flights"),
            Msg::SprayedHa => ("散布面積 (ha)", "Sprayed (ha)"),
            Msg::DairyFarms => ("搾乳農家数", "Dairy farms"),
            Msg::CowsMilked => ("搾乳頭数", "Cows milked"),
            Msg::AvgCowsPerHour => ("平均搾乳頭数 (頭/時)", "Average cows per hour"),
            Msg::UptimePct => ("稼働率 (%)", "Uptime (%)"),
            Msg::AlertsCount => ("アラート件数", "Alerts"),
            Msg::Pesticide => ("農薬名", "Pesticide"),
            Msg::RegNo => ("農薬登録番号", "Registration no."),
            Msg::NotRecorded => ("未記録", "not recorded"),
            Msg::Total => ("合計", "Total"),
            Msg::DownloadCsv => ("CSVでダウンロード", "Download as CSV"),
            Msg::ChartSprayedByMonth => ("月別の散布面積 (ha)", "Sprayed area by month (ha)"),
            Msg::ChartMilkByMonth => ("月別の乳量 (t)", "Milk by month (t)"),
            Msg::ChartTableBelow => (
                "グラフの数値は下の表にあります。",
                "The charts' figures are in the tables below.",
            ),
            Msg::ReportDefinitions => (
                "季節は春3〜5月・夏6〜8月・秋9〜11月・冬12月〜翌年2月。稼働率＝パーラーが応答した時間÷（応答時間＋記録された通信断の時間）。平均搾乳頭数＝搾乳頭数÷応答時間。月は日本時間の暦月です。",
                "Seasons: spring March–May, summer June–August, autumn September–November, winter December–February of the next year. Uptime = time the parlors answered ÷ (that time + recorded offline gaps). Average cows per hour = cows milked ÷ hours answered. Months are Japan Standard Time calendar months.",
            ),
            Msg::NoReportData => (
                "この期間のデータはありません。",
                "There is no data for this period.",
            ),
            Msg::DrillDown => ("内訳", "Details"),
            Msg::OpenData => ("オープンデータ", "Open data"),
            Msg::OpenDataIntro => (
                "地区・月別の散布と搾乳の集計を、サインインなしで自由に利用できます（CSVとJSON）。",
                "District and month totals of spraying and milking, free to use without signing in (CSV and JSON).",
            ),
            Msg::OpenDataSuppression => (
                "1〜2戸の農家・牧場から成る値は個々の経営が特定されないよう秘匿しています（CSVでは「x」、JSONではnull）。合計値は公表しないため、差し引きで秘匿値を求めることはできません。",
                "Figures built from only one or two farms are suppressed so that no single farm can be identified (\"x\" in CSV, null in JSON). No totals are published, so a suppressed value cannot be recovered by subtraction.",
            ),
            Msg::OpenDataSchema => ("データ定義（JSON Schema）", "Data definition (JSON Schema)"),
            Msg::NotApplicable => (
                "「-」は該当なし（時間の記録がない）を表します。",
                "\"-\" means not applicable (no time recorded).",
            ),
        };
        match lang {
            Lang::Ja => ja,
            Lang::En => en,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_prefers_first_spoken() {
        assert_eq!(
            Lang::from_accept_language("en-US,en;q=0.9,ja;q=0.8"),
            Lang::En
        );
        assert_eq!(Lang::from_accept_language("ja,en;q=0.5"), Lang::Ja);
        assert_eq!(Lang::from_accept_language("fr-FR,de"), Lang::Ja);
        assert_eq!(Lang::from_accept_language(""), Lang::Ja);
    }

    #[test]
    fn every_message_has_both_languages() {
        for m in [
            Msg::AppName,
            Msg::SignIn,
            Msg::BadInput,
            Msg::ServerError,
            Msg::Forbidden,
        ] {
            assert!(!m.text(Lang::Ja).is_empty());
            assert!(!m.text(Lang::En).is_empty());
            assert_ne!(m.text(Lang::Ja), m.text(Lang::En));
        }
    }
}
