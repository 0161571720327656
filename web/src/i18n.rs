//! Japanese-first user-facing text with English alongside: one [`Lang`] per request and one
//! [`Msg`] per sentence, so a missing translation is a compile error, not a blank page.

use serde::{Deserialize, Serialize};

pub mod applied;
pub mod fields;
pub mod maps;
pub mod names;
pub mod plan_form;
pub mod push;
pub mod rx;
pub mod staff_alerts;
pub mod terrain;

/// Declares a message enum with its Japanese and English texts side by side, its `text`
/// method and `ALL`, every variant (so the both-languages test cannot miss a new one).
macro_rules! messages {
    ($(#[$meta:meta])* $vis:vis enum $name:ident {
        $($(#[$vmeta:meta])* $variant:ident => ($ja:expr, $en:expr $(,)?),)*
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name { $($(#[$vmeta])* $variant,)* }

        impl $name {
            /// Every message.
            #[allow(dead_code)]
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The text in `lang`.
            pub fn text(self, lang: $crate::i18n::Lang) -> &'static str {
                let (ja, en) = match self { $($name::$variant => ($ja, $en),)* };
                match lang {
                    $crate::i18n::Lang::Ja => ja,
                    $crate::i18n::Lang::En => en,
                }
            }
        }
    };
}
pub(crate) use messages;

/// Japan Standard Time (+09:00, no daylight saving): the calendar and clock the pages show.
pub const JST: chrono::FixedOffset = match chrono::FixedOffset::east_opt(9 * 3600) {
    Some(offset) => offset,
    None => panic!("+09:00 is a valid offset"),
};

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
    /// A request body over the size limit.
    TooLarge,
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
    /// How the parlor page's hourly rates are made.
    RateNote,
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
    /// Alert message: a parlor's bridge has gone silent.
    AlertParlorOffline,
    /// Alert message: a parlor's platform has stopped inside a session.
    AlertParlorStopped,
    /// Alert message: a parlor's throughput is below the rule's floor.
    AlertLowThroughput,
    /// Alert message: the condition has cleared.
    AlertResolved,
    /// Alert message: "minutes" after a number.
    AlertMinutes,
    /// Alert message: a platform fault or an alarm bit.
    AlertPlatformFault,
    /// Alert message: a milking's conductivity above the cow's own level.
    AlertHighConductivity,
    /// Alert message: milk-line temperature out of range.
    AlertMilkTemperature,
    /// Alert message: a bridge has sent nothing.
    AlertBridgeOffline,
    /// Alert message: a flight lost its link.
    AlertFlightLinkLost,
    /// Alert message: a flight's failsafe triggered.
    AlertFlightFailsafe,
    /// Alert message: a sortie ended aborted or failed.
    AlertSortieAborted,
    /// Alert message: a spray record is still unsigned.
    AlertRecordUnsigned,
    /// Alert message: a parlor sent no data for a day.
    AlertDayDataMissing,
    /// Alert message and page: acknowledge.
    AlertAck,
    /// Alerts page title.
    AlertsTitle,
    /// Alerts page: none yet.
    AlertsNone,
    /// Alerts page: an alert still open.
    AlertOpenNow,
    /// Alerts page: when it opened.
    AlertOpenedAt,
    /// Alerts page: when it cleared.
    AlertClearedAt,
    /// Alerts page: when somebody acknowledged it.
    AlertAckedAt,
    /// Alerts page: the delivery attempts.
    AlertDeliveries,
    /// Acknowledge page: the question.
    AlertAckConfirm,
    /// Acknowledge page: done.
    AlertAckDone,
    /// Acknowledge page: a bad or expired link.
    AlertAckBadLink,
    /// Alerts page: what the alert was about.
    AlertWhat,
    /// Settings: the rules heading.
    AlertRules,
    /// Settings: the channels heading.
    AlertChannels,
    /// Settings: add button.
    AlertAdd,
    /// Settings: enable button.
    AlertEnable,
    /// Settings: disable button.
    AlertDisable,
    /// Settings: kind field.
    AlertKindLabel,
    /// Settings: a channel's kind field.
    AlertChannelKindLabel,
    /// Alert channel kind: e-mail.
    AlertChannelEmail,
    /// Alert channel kind: a signed webhook (LINE or another chat bridge).
    AlertChannelWebhook,
    /// Settings: parlor field (empty = all).
    AlertParlorLabel,
    /// Settings: minutes field.
    AlertMinutesLabel,
    /// Settings: upper bound / factor field.
    AlertThresholdLabel,
    /// Settings: lower bound field.
    AlertThresholdLowLabel,
    /// Settings: critical checkbox.
    AlertCriticalLabel,
    /// Settings: target field.
    AlertTargetLabel,
    /// Settings: webhook secret field.
    AlertSecretLabel,
    /// Settings: quiet hours from.
    AlertQuietFromLabel,
    /// Settings: quiet hours to.
    AlertQuietToLabel,
    /// Settings: escalation field.
    AlertEscalateLabel,
    /// Settings error: an unknown kind.
    AlertBadKind,
    /// Settings error: a number out of range.
    AlertBadNumber,
    /// Settings error: the kind needs its threshold.
    AlertNeedThreshold,
    /// Settings error: bad e-mail address or URL.
    AlertBadTarget,
    /// Settings error: a webhook needs a secret of 16 characters or more.
    AlertNeedSecret,
    /// Settings error: a time is not HH:MM.
    AlertBadTime,
    /// Settings error: the parlor is not this farm's.
    AlertBadParlor,
    /// Settings: enabled state.
    AlertEnabled,
    /// Settings: disabled state.
    AlertDisabled,
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
    /// A KML file nests folders or other elements too deeply (followed by the limit).
    ImportTooDeep,
    /// A text input holds NUL or another control character.
    TextControlChars,
    /// A text input is too long (followed by the limit in characters).
    TextTooLong,
    /// A bridge record holds a value no parlor can produce (followed by the bound).
    ImpossibleValue,
    /// A KMZ archive lists too many files (followed by the limit).
    KmzTooManyEntries,
    /// A KMZ archive's KML inflates past the size limit (followed by the limit in MiB).
    KmzTooLarge,
    /// A KMZ archive inflates far more than real KML does (followed by the ratio limit).
    KmzBadRatio,
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
    /// Distance every leg keeps from the geofence (the vehicle's FENCE_MARGIN).
    FenceMarginM,
    /// Fence vertices the vehicle stores.
    FencePointsMax,
    /// Geofence heading on the plan page.
    Geofence,
    /// Fence vertices uploaded / of the full fence.
    FenceVertices,
    /// How far the fitted fence may lie beyond the boundary.
    FenceShiftM,
    /// Exclusion zones left out of the uploaded fence.
    FenceExclusionsDropped,
    /// What fitting the fence did, and that the path keeps its distance anyway.
    FenceFittedNote,
    /// The whole fence fits the vehicle.
    FenceWhole,
    /// Field area left unsprayed (margins, zones, buffers), m².
    UnsprayedM2,
    /// Length of the path outside the field (the hop to a refill point beside it), m.
    OutsideFieldM,
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
    /// The planner is busy with other fields (503).
    PlannerBusy,
    /// A field import or plan ran past its deadline (503).
    PlannerDeadline,
    /// A ring has too many vertices (followed by the count and the limit).
    FieldTooManyVertices,
    /// Said of a vertex count left after automatic thinning.
    AfterThinning,
    /// A polygon has too many holes (followed by the count and the limit).
    FieldTooManyHoles,
    /// A file holds too many vertices (followed by the count and the limit).
    FileTooManyVertices,
    /// A file holds too many features (followed by the count and the limit).
    FileTooManyFeatures,
    /// A boundary crosses the 180° meridian.
    CrossesAntimeridian,
    /// A boundary crosses itself (followed by the crossing edges).
    SelfIntersection,
    /// A polygon has no area (followed by the area in m²).
    ZeroAreaField,
    /// A field is larger than the limit (followed by the area and the limit in ha).
    FieldTooLargeHa,
    /// A coordinate is out of range (followed by the coordinate).
    CoordOutOfRange,
    /// The latitude and longitude of a coordinate look swapped.
    CoordSwapped,
    /// A coordinate is NaN or infinite.
    CoordNotFinite,
    /// A ring has fewer than 3 distinct points (followed by the count).
    TooFewPointsField,
    /// A planner setting is out of range (followed by which and what is accepted).
    SettingOutOfRange,
    /// Margins and zones leave nothing to spray.
    NothingLeftToSpray,
    /// A feature's geometry cannot be a field (followed by its type).
    UnsupportedShape,
    /// Too many zones near a field (followed by the count and the limit).
    FieldTooManyZones,
    /// The word for one shape of an input file.
    FeatureWord,
    /// The outer boundary of a polygon.
    ExteriorRing,
    /// A hole of a polygon (followed by its number).
    InteriorRing,
    /// The word for a vertex (followed by its number).
    VertexWord,
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
    // --- records ---
    /// Spray record page title (農薬使用記録).
    RecTitle,
    /// Flight logbook page title.
    LogTitle,
    /// The farm's records list.
    RecFarmList,
    /// Version of a record.
    RecVersion,
    /// Signed off.
    RecSigned,
    /// Draft, not signed.
    RecDraft,
    /// What a draft means.
    RecDraftHelp,
    /// Print button.
    Print,
    /// Edit heading.
    RecEdit,
    /// Date sprayed.
    RecDate,
    /// Place (field).
    RecPlace,
    /// Fude polygon id.
    RecFude,
    /// Address.
    RecAddress,
    /// Crop.
    RecCrop,
    /// Choose from the catalogue.
    RecFromCatalogue,
    /// Not from the catalogue.
    RecNotFromCatalogue,
    /// Pesticide name.
    RecPesticide,
    /// Registration number as printed.
    RecRegNo,
    /// Registration number input.
    RecRegNoInput,
    /// Dilution.
    RecDilution,
    /// Amount per 10 a.
    RecRate,
    /// Total used.
    RecLitres,
    /// Area sprayed.
    RecArea,
    /// Operator.
    RecOperator,
    /// Notes.
    RecNotes,
    /// What signing does.
    SignHelp,
    /// Before signing, these items of the record must be filled in.
    SignNeeds,
    /// Sign-off button.
    SignOff,
    /// What an amendment is.
    AmendHelp,
    /// Amend button.
    Amend,
    /// Earlier versions.
    RecHistory,
    /// Not a number ≥ 0.
    RecBadNumber,
    /// Not a date.
    RecBadDate,
    /// Registration number not digits.
    RecBadRegNo,
    /// Signed or superseded.
    RecFrozen,
    /// Required.
    RecRequired,
    /// Date flown.
    LogDate,
    /// Pilot.
    LogPilot,
    /// Drone registration.
    LogDrone,
    /// Takeoff time.
    LogTakeoffAt,
    /// Takeoff place.
    LogTakeoffPlace,
    /// Takeoff coordinates.
    LogTakeoffPos,
    /// Landing time.
    LogLandingAt,
    /// Landing place.
    LogLandingPlace,
    /// Landing coordinates.
    LogLandingPos,
    /// Flight time.
    LogFlightTime,
    /// Purpose.
    LogPurpose,
    /// Failsafes.
    LogFailsafes,
    /// Anomalies from the vehicle.
    LogAnomalies,
    /// Nothing.
    LogNone,
    /// Season (year).
    Season,
    /// From date.
    DateFrom,
    /// To date.
    DateTo,
    /// Filter button.
    Filter,
    /// Records CSV download.
    RecCsv,
    /// Logbook CSV download.
    LogCsv,
    /// Nothing recorded.
    RecNone,
    /// State of a record.
    RecState,
    /// Pesticide catalogue.
    Catalogue,
    /// Add to catalogue.
    CatalogueAdd,
    /// Link group on the flight page.
    RecLinks,
    /// Navigation item to the farm's records.
    RecNavRecords,
    // --- flights (launch, vehicles, go/no-go) ---
    /// Vehicles page and navigation.
    Vehicles,
    /// Heading and button of the vehicle form.
    AddVehicle,
    /// Heading of the vehicle edit page.
    EditVehicle,
    /// Label: MLIT registration number.
    RegistrationNo,
    /// Label: vehicle link address.
    LinkAddress,
    /// Label: registration expiry date.
    RegistrationExpiry,
    /// Label: pump servo output.
    PumpServo,
    /// No vehicle yet.
    NoVehicles,
    /// Pilot credentials page.
    PilotCredentials,
    /// Label: licence number.
    LicenceNo,
    /// Label: licence expiry.
    LicenceExpiry,
    /// Label: permit number.
    PermitNo,
    /// Label: permit expiry.
    PermitExpiry,
    /// Launch page title and link.
    LaunchFlight,
    /// Checklist heading.
    GoNoGo,
    /// Checklist column: the check.
    CheckItem,
    /// Checklist column: the outcome.
    Outcome,
    /// Checklist column: the reason.
    Reason,
    /// Label: sortie choice.
    SortieWord,
    /// Label: wind speed.
    WindMps,
    /// Wind came from the station.
    WindFromStation,
    /// "read at" before a time.
    ReadAt,
    /// Legend of the resume choice.
    StartFrom,
    /// What resuming does.
    ResumeHint,
    /// Resume choice, followed by the item number.
    ResumeFromItem,
    /// Start-from-the-beginning choice.
    StartFromBeginning,
    /// Row of a flight record: the item a resumed flight started after.
    ResumedAfter,
    /// Label: height above crop.
    HeightAboveCrop,
    /// Checkbox: neighbours notified.
    NeighboursNotified,
    /// Label: airspace approval.
    AirspaceApproval,
    /// Checkbox: acknowledge warnings.
    AcknowledgeWarnings,
    /// Checkbox: switch the vehicle's geofence on before take-off.
    EnableFence,
    /// Button: evaluate the checklist.
    CheckNow,
    /// Button: upload and verify.
    UploadAndVerify,
    /// A check blocks.
    LaunchBlocked,
    /// Warnings not acknowledged.
    WarningsNeedAck,
    /// Vehicle busy.
    VehicleBusy,
    /// Live page title.
    LiveFlight,
    /// Label: phase.
    PhaseWord,
    /// Phase.
    PhaseConnecting,
    /// Phase.
    PhaseUploading,
    /// Phase.
    PhaseVerified,
    /// Phase.
    PhaseStarting,
    /// Phase.
    PhaseFlying,
    /// Phase.
    PhasePaused,
    /// Phase.
    PhaseReturning,
    /// Phase.
    PhaseEnded,
    /// Label: mode.
    ModeWord,
    /// Label: armed.
    ArmedWord,
    /// Yes.
    Yes,
    /// No.
    No,
    /// Label: progress.
    Progress,
    /// Label: distance to go.
    ToGoM,
    /// Label: spray state.
    SprayWord,
    /// Spray on (with icon).
    SprayOn,
    /// Spray off (with icon).
    SprayOff,
    /// Label: height above home.
    AltitudeM,
    /// Label: battery now.
    BatteryNow,
    /// Heading: STATUSTEXT log.
    VehicleMessages,
    /// Heading: verified counts.
    VerifiedItems,
    /// Label.
    MissionItems,
    /// Label.
    FenceItems,
    /// Label.
    RallyPoints,
    /// Checkbox: confirm start.
    ConfirmClear,
    /// Button.
    ArmAndStart,
    /// Button.
    PauseFlight,
    /// Button.
    ResumeFlight,
    /// Button.
    RtlFlight,
    /// Button.
    AbortFlight,
    /// Link to the record.
    ViewRecord,
    /// Command to an inactive flight.
    FlightNotActive,
    /// History page.
    FlightHistory,
    /// Label: status.
    StatusWord,
    /// Flight status.
    StatusPlanned,
    /// Flight status.
    StatusUploading,
    /// Flight status.
    StatusFlying,
    /// Flight status.
    StatusPaused,
    /// Flight status.
    StatusCompleted,
    /// Flight status.
    StatusAborted,
    /// Flight status.
    StatusFailed,
    /// Heading on the record page.
    RecordedGoNoGo,
    /// Label.
    PilotWord,
    /// Label: last error.
    ProblemWord,
    /// Label.
    WarningsAcknowledged,
    /// Start without confirmation.
    ConfirmNeeded,
    /// Link.
    MyPilotCredentials,
    /// Go/no-go outcome: pass.
    OutcomePass,
    /// Go/no-go outcome: warn.
    OutcomeWarn,
    /// Go/no-go outcome: block.
    OutcomeBlock,
    /// Go/no-go check: wind.
    CheckWind,
    /// Go/no-go check: height.
    CheckHeight,
    /// Go/no-go check: 30 m zone.
    CheckApprovalZone,
    /// Go/no-go check: DID.
    CheckDid,
    /// Go/no-go check: airport.
    CheckAirport,
    /// Go/no-go check: licence.
    CheckLicence,
    /// Go/no-go check: permit.
    CheckPermit,
    /// Go/no-go check: registration.
    CheckRegistration,
    /// Go/no-go check: neighbours.
    CheckNeighbours,
    /// Go/no-go check: separate fields.
    CheckSeparateFields,
    /// Go/no-go check of unknown id (older record).
    CheckOther,
    // --- parlor: bail ring, accounts ---
    /// Ring of bails heading.
    BailRing,
    /// One bail.
    Bail,
    /// State of a bail.
    BailStateLabel,
    /// Cow number.
    CowNumber,
    /// Yield of the milking in progress.
    YieldSoFar,
    /// Alarm.
    Alarm,
    /// The parlor's entrance.
    Entrance,
    /// Bails with a cow.
    OccupiedBails,
    /// The bail list as a table.
    BailTable,
    /// No bail snapshot yet.
    NoBailsYet,
    /// When the bails were read.
    BailsReadAt,
    /// The account page.
    Account,
    /// The button that opens the site menu on a narrow screen.
    Menu,
    /// The site navigation's accessible name.
    SiteNav,
    /// The wind now.
    WindNow,
    /// No wind reading: say so, and what to do.
    NoForecast,
    /// The wind allows spraying.
    WindGo,
    /// Too windy to spray.
    WindNoGo,
    /// The go/no-go's wind limit.
    WindLimit,
    /// Plans not yet flown.
    NextSorties,
    /// Flights whose logbook is unsigned.
    LogbooksToSign,
    /// Flights whose spray record is unsigned.
    RecordsToSign,
    /// Drones in the air now.
    DronesNow,
    /// Link to the pre-flight check.
    PreflightCheck,
    /// Each parlor's state now.
    ParlorsNow,
    /// Alerts not yet resolved.
    OpenAlerts,
    /// No open alerts.
    NoOpenAlerts,
    /// No report from the parlor yet.
    NoReportYet,
    /// What changed since yesterday began.
    SinceYesterday,
    /// Flights stored.
    NewFlights,
    /// Spray record versions saved.
    NewRecords,
    /// Parlor reports received.
    ParlorReports,
    /// What is missing.
    MissingWord,
    /// A district's parlors did not report.
    MissingParlorData,
    /// Nothing arrived from a district.
    MissingAllData,
    /// The text-size setting.
    TextSize,
    /// The normal text size.
    TextNormal,
    /// A larger text size.
    TextLarge,
    /// The largest text size.
    TextLarger,
    /// Change the password.
    ChangePassword,
    /// The current password.
    CurrentPassword,
    /// The new password.
    NewPassword,
    /// The new password again.
    NewPasswordAgain,
    /// Password rule.
    PasswordHint,
    /// Password too short.
    PasswordTooShort,
    /// New passwords differ.
    PasswordsDiffer,
    /// Wrong current password.
    WrongCurrentPassword,
    /// Password changed.
    PasswordChanged,
    /// Edit.
    Edit,
    /// Edit a farm.
    EditFarm,
    /// Edit a user.
    EditUser,
    /// Saved.
    Saved,
    /// Reset a user's password.
    ResetPassword,
    /// Password was reset.
    PasswordReset,
    /// Disable a user.
    Disable,
    /// Enable a user.
    Enable,
    /// Account status.
    AccountStatus,
    /// Disabled account.
    Disabled,
    /// Active account.
    Active,
    /// User disabled.
    UserDisabled,
    /// User enabled.
    UserEnabled,
    /// Cannot disable oneself.
    CannotDisableSelf,
    /// Revoke a token.
    Revoke,
    /// A revoked token.
    Revoked,
    /// Token revoked.
    TokenRevoked,
    /// The change log.
    AuditLog,
    /// When.
    When,
    /// Who.
    Who,
    /// What was done.
    Action,
    /// What it was done to.
    Target,
    /// Done from the command line.
    CommandLine,
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

/// The name of a canonical bail state (`empty`, `prep`, `milking`, `done`, `kicked_off`).
pub fn bail_state_name(lang: Lang, state: &str) -> &'static str {
    let (ja, en) = match state {
        "empty" => ("空き", "Empty"),
        "prep" => ("前処理", "Prep"),
        "milking" => ("搾乳中", "Milking"),
        "done" => ("搾乳終了", "Done"),
        "kicked_off" => ("ミルカー脱落", "Kicked off"),
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
            Msg::TooLarge => (
                "送信されたデータが大きすぎます。ファイルを小さくする（分割する）か、圧縮してからもう一度お試しください。",
                "What was sent is too large. Make the file smaller (or split it) and try again.",
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
            Msg::RateNote => (
                "頭/時は直近の搾乳の流れ、kg/時はそれに本日の1頭あたり乳量を掛けた値です。",
                "Cows/h is the recent milking rate; kg/h is that rate times today's yield per cow.",
            ),
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
            Msg::AlertParlorOffline => ("通信途絶", "offline"),
            Msg::AlertParlorStopped => ("停止中", "rotary stopped"),
            Msg::AlertLowThroughput => ("処理頭数低下", "low throughput"),
            Msg::AlertResolved => ("復旧", "cleared"),
            Msg::AlertMinutes => ("分", " min"),
            Msg::AlertPlatformFault => ("異常・警報", "fault/alarm"),
            Msg::AlertHighConductivity => ("乳房炎疑い", "high conductivity"),
            Msg::AlertMilkTemperature => ("乳温異常", "milk temperature"),
            Msg::AlertBridgeOffline => ("ブリッジ途絶", "bridge offline"),
            Msg::AlertFlightLinkLost => ("機体通信途絶", "link lost"),
            Msg::AlertFlightFailsafe => ("フェールセーフ", "failsafe"),
            Msg::AlertSortieAborted => ("飛行中止", "sortie aborted"),
            Msg::AlertRecordUnsigned => ("記録未署名", "record unsigned"),
            Msg::AlertDayDataMissing => ("データ欠落", "no data for a day"),
            Msg::AlertAck => ("確認済みにする", "Acknowledge"),
            Msg::AlertsTitle => ("アラート", "Alerts"),
            Msg::AlertsNone => ("アラートはまだありません。", "No alerts yet."),
            Msg::AlertOpenNow => ("発生中", "open"),
            Msg::AlertOpenedAt => ("発生", "Opened"),
            Msg::AlertClearedAt => ("復旧", "Cleared"),
            Msg::AlertAckedAt => ("確認", "Acknowledged"),
            Msg::AlertDeliveries => ("送信の記録", "Delivery attempts"),
            Msg::AlertAckConfirm => (
                "このアラートを確認済みにしますか？",
                "Mark this alert as acknowledged?",
            ),
            Msg::AlertAckDone => ("確認済みにしました。", "The alert is acknowledged."),
            Msg::AlertAckBadLink => (
                "このリンクは無効か、有効期限が切れています。",
                "This link is not valid or has expired.",
            ),
            Msg::AlertWhat => ("内容", "What"),
            Msg::AlertRules => ("アラートの条件", "Alert rules"),
            Msg::AlertChannels => ("通知先", "Where alerts go"),
            Msg::AlertAdd => ("追加", "Add"),
            Msg::AlertEnable => ("有効にする", "Enable"),
            Msg::AlertDisable => ("無効にする", "Disable"),
            Msg::AlertKindLabel => ("種類", "Kind"),
            Msg::AlertChannelKindLabel => ("通知の方法", "Sent by"),
            Msg::AlertChannelEmail => ("メール", "E-mail"),
            Msg::AlertChannelWebhook => (
                "Webhook（LINE などのチャット連携）",
                "Webhook (LINE or another chat)",
            ),
            Msg::AlertParlorLabel => ("パーラー（空欄＝すべて）", "Parlor (empty = all)"),
            Msg::AlertMinutesLabel => ("分", "Minutes"),
            Msg::AlertThresholdLabel => (
                "しきい値（上限・倍率）",
                "Threshold (upper bound or factor)",
            ),
            Msg::AlertThresholdLowLabel => ("下限", "Lower bound"),
            Msg::AlertCriticalLabel => ("重大（夜間も通知）", "Critical (also in quiet hours)"),
            Msg::AlertTargetLabel => ("宛先（メールアドレスまたはURL）", "Address (e-mail or URL)"),
            Msg::AlertSecretLabel => (
                "署名鍵（Webhook、16文字以上）",
                "Signing secret (webhook, 16+ characters)",
            ),
            Msg::AlertQuietFromLabel => ("通知しない時間帯の開始（時:分）", "Quiet from (HH:MM)"),
            Msg::AlertQuietToLabel => ("通知しない時間帯の終了（時:分）", "Quiet until (HH:MM)"),
            Msg::AlertEscalateLabel => (
                "未確認なら何分後に通知（二次連絡先）",
                "Notify if unacknowledged after minutes (second line)",
            ),
            Msg::AlertBadKind => ("種類が正しくありません", "is not a known kind"),
            Msg::AlertBadNumber => ("数値が範囲外です", "is not a number in range"),
            Msg::AlertNeedThreshold => (
                "この種類にはしきい値が必要です",
                "this kind needs its threshold",
            ),
            Msg::AlertBadTarget => (
                "メールアドレスか http(s):// のURLを入力してください",
                "enter an e-mail address or an http(s):// URL",
            ),
            Msg::AlertNeedSecret => (
                "Webhookには16文字以上の署名鍵が必要です",
                "a webhook needs a secret of at least 16 characters",
            ),
            Msg::AlertBadTime => (
                "時:分（例 21:30）の形で入力してください",
                "enter a time as HH:MM",
            ),
            Msg::AlertBadParlor => (
                "この牧場のパーラーではありません",
                "is not a parlor of this farm",
            ),
            Msg::AlertEnabled => ("有効", "enabled"),
            Msg::AlertDisabled => ("無効", "disabled"),
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
            Msg::ImportTooDeep => (
                "KMLのフォルダーなどの入れ子が深すぎるため読み込めません。入れ子の上限（階層）:",
                "The KML file nests folders or other elements too deeply to be read. Deepest nesting accepted (levels):",
            ),
            Msg::KmzTooManyEntries => (
                "KMZファイルに含まれるファイルが多すぎるため読み込めません。ファイル数の上限:",
                "The KMZ file holds too many files to be read. Most files accepted:",
            ),
            Msg::KmzTooLarge => (
                "KMZファイルを展開したKMLが大きすぎるため読み込めません。展開後の上限（MiB）:",
                "The KML inside the KMZ file is too large to be read. Largest inflated size accepted (MiB):",
            ),
            Msg::KmzBadRatio => (
                "KMZファイルの圧縮率が通常のKMLではありえない値のため読み込めません（圧縮爆弾の可能性）。圧縮率の上限（倍）:",
                "The KMZ file inflates far more than real KML does (possibly a zip bomb) and was not read. Largest ratio accepted (times):",
            ),
            Msg::TextControlChars => (
                "制御文字（NULなど）は使えません。",
                "must not contain control characters (such as NUL).",
            ),
            Msg::ImpossibleValue => (
                "物理的にありえない値のため受け付けません。許容範囲:",
                "is physically impossible and was refused. Accepted range:",
            ),
            Msg::TextTooLong => (
                "長すぎます。最大文字数:",
                "too long. Most characters accepted:",
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
            Msg::FenceMarginM => (
                "ジオフェンスとの間隔 (m、機体の FENCE_MARGIN)",
                "Distance from the geofence (m, the vehicle's FENCE_MARGIN)",
            ),
            Msg::FencePointsMax => (
                "機体が保存できるフェンス頂点数",
                "Fence vertices the vehicle stores",
            ),
            Msg::Geofence => ("ジオフェンス", "Geofence"),
            Msg::FenceVertices => ("頂点数 (送信 / 元の形)", "Vertices (uploaded / full)"),
            Msg::FenceShiftM => (
                "境界からの広がり 最大 (m)",
                "At most beyond the boundary (m)",
            ),
            Msg::FenceExclusionsDropped => (
                "フェンスから外した除外区域",
                "Exclusion zones left out of the fence",
            ),
            Msg::FenceFittedNote => (
                "機体が保存できる頂点数に合わせ、フェンスを外側へ簡略化しました。飛行経路は元の境界と除外区域から間隔を保ちます。",
                "The fence was simplified outward to fit what the vehicle stores. The flight path still keeps its distance from the real boundary and zones.",
            ),
            Msg::FenceWhole => (
                "フェンスは元の形のまま機体に送ります。",
                "The whole fence is uploaded as it is.",
            ),
            Msg::UnsprayedM2 => (
                "散布しない範囲 (m²、縁の余白・除外区域・緩衝帯)",
                "Not sprayed (m², edge margin, zones, buffers)",
            ),
            Msg::OutsideFieldM => (
                "圃場の外を飛ぶ距離 (m、圃場外の補給地点まで)",
                "Flown outside the field (m, to a refill point beside it)",
            ),
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
            Msg::PlannerBusy => (
                "ほかのほ場の計画で混み合っています。しばらくしてからもう一度お試しください。",
                "The planner is busy with other fields. Please try again in a moment.",
            ),
            Msg::PlannerDeadline => (
                "処理に時間がかかりすぎたため中止しました。ほ場の境界を単純にするか、ほ場を分けてからもう一度お試しください。",
                "This took too long and was stopped. Simplify the field boundary or split the field, then try again.",
            ),
            Msg::FieldTooManyVertices => (
                "境界の頂点が多すぎます。境界を単純化するか（QGIS の「単純化」など）、ほ場を分けてください。頂点数／上限:",
                "The boundary has too many vertices. Simplify it (for example with QGIS Simplify) or split the field. Vertices / most accepted:",
            ),
            Msg::AfterThinning => ("（自動で間引いた後）", "(after automatic thinning)"),
            Msg::FieldTooManyHoles => (
                "穴（くり抜き部分）が多すぎます。小さな障害物は除外区域として描くか、ほ場を分けてください。穴の数／上限:",
                "The polygon has too many holes. Draw small obstacles as exclusion zones or split the field. Holes / most accepted:",
            ),
            Msg::FileTooManyVertices => (
                "ファイル全体の頂点が多すぎます。ファイルを分けてください。頂点数（概数）／上限:",
                "The file holds too many vertices. Split it into smaller files. Vertices (about) / most accepted:",
            ),
            Msg::FileTooManyFeatures => (
                "1つのファイルのほ場・区域が多すぎます。ファイルを分けてください。数（概数）／上限:",
                "The file holds too many fields and zones. Split it into smaller files. Count (about) / most accepted:",
            ),
            Msg::CrossesAntimeridian => (
                "境界が180度の経線（日付変更線）をまたいでいます。そこでほ場を分けるか、経度を確かめてください。",
                "The boundary crosses the 180° meridian (antimeridian). Split the field there, or check the longitudes.",
            ),
            Msg::SelfIntersection => (
                "境界が自分自身と交差しています（8の字など）。交差している辺の頂点を直してください。交差する辺:",
                "The boundary crosses itself (a figure-eight or bow-tie). Fix the vertices of the crossing edges. Crossing edges:",
            ),
            Msg::ZeroAreaField => (
                "面積がほとんどありません（1 m² 未満）。点が一直線に並んでいないか確かめてください。面積 (m²):",
                "The polygon has (almost) no area (under 1 m²). Check that its points are not on one line. Area (m²):",
            ),
            Msg::FieldTooLargeHa => (
                "ほ場が大きすぎます。座標が WGS84 の経度・緯度か、地区全体を取り込んでいないか確かめてください。面積 (ha)／上限:",
                "The field is too large. Check that the coordinates are WGS84 longitude/latitude and that this is not a whole district. Area (ha) / most accepted:",
            ),
            Msg::CoordOutOfRange => (
                "座標が範囲外です（経度は ±180、緯度は ±90）。座標:",
                "A coordinate is out of range (longitude ±180, latitude ±90). Coordinate:",
            ),
            Msg::CoordSwapped => (
                "緯度と経度が入れ替わっているようです（GeoJSON は [経度, 緯度] の順です）。",
                "Latitude and longitude look swapped (GeoJSON is [lon, lat]).",
            ),
            Msg::CoordNotFinite => (
                "座標が数値ではありません（NaN や無限大）。",
                "A coordinate is not a number (NaN or infinite).",
            ),
            Msg::TooFewPointsField => (
                "異なる点が3つ未満のため図形になりません。点の数:",
                "Fewer than 3 distinct points, so this is not a polygon. Distinct points:",
            ),
            Msg::SettingOutOfRange => ("設定値が範囲外です:", "A setting is out of range:"),
            Msg::NothingLeftToSpray => (
                "余白・除外区域・ドリフト緩衝帯を除くと、散布できる部分が残りません。余白や緩衝帯を小さくしてください。",
                "Nothing is left to spray after margins, exclusion zones and drift buffers. Make the margins or buffers smaller.",
            ),
            Msg::UnsupportedShape => (
                "ほ場として使えない図形です（Polygon か MultiPolygon が必要です）。図形の種類:",
                "This shape cannot be a field (expected Polygon or MultiPolygon). Shape type:",
            ),
            Msg::FieldTooManyZones => (
                "ほ場の近くの除外区域・配慮区域が多すぎます。隣り合う区域をまとめるか、ほ場を分けてください。区域の数／上限:",
                "Too many exclusion and sensitive zones lie near the field. Merge neighbouring zones or split the field. Zones / most accepted:",
            ),
            Msg::FeatureWord => ("図形", "feature"),
            Msg::ExteriorRing => ("外周", "exterior ring"),
            Msg::InteriorRing => ("穴", "interior ring"),
            Msg::VertexWord => ("頂点", "vertex"),
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
            // --- records ---
            Msg::RecTitle => ("農薬使用記録", "Pesticide use record"),
            Msg::LogTitle => ("飛行日誌", "Flight logbook"),
            Msg::RecFarmList => ("散布記録・飛行日誌の一覧", "Records and logbook list"),
            Msg::RecVersion => ("版", "Version"),
            Msg::RecSigned => ("署名済み", "Signed off"),
            Msg::RecDraft => ("下書き", "Draft"),
            Msg::RecDraftHelp => (
                "（署名するまで編集できます）",
                "(editable until signed off)",
            ),
            Msg::Print => ("印刷", "Print"),
            Msg::RecEdit => ("内容を編集", "Edit"),
            Msg::RecDate => ("散布日", "Date sprayed"),
            Msg::RecPlace => ("散布場所（圃場）", "Place (field)"),
            Msg::RecFude => ("筆ポリゴンID", "Fude polygon ID"),
            Msg::RecAddress => ("住所", "Address"),
            Msg::RecCrop => ("作物", "Crop"),
            Msg::RecFromCatalogue => ("農薬の一覧から選ぶ", "Choose from the catalogue"),
            Msg::RecNotFromCatalogue => ("（一覧から選ばない）", "(not from the catalogue)"),
            Msg::RecPesticide => ("農薬名", "Pesticide"),
            Msg::RecRegNo => ("登録番号", "Registration"),
            Msg::RecRegNoInput => (
                "農林水産省登録番号（数字）",
                "MAFF registration number (digits)",
            ),
            Msg::RecDilution => ("希釈倍数（倍）", "Dilution (times)"),
            Msg::RecRate => ("10a当たり使用量（L）", "Amount per 10 a (L)"),
            Msg::RecLitres => ("使用総量（L）", "Total used (L)"),
            Msg::RecArea => ("散布面積（m²）", "Area sprayed (m²)"),
            Msg::RecOperator => ("作業者", "Operator"),
            Msg::RecNotes => ("備考", "Notes"),
            Msg::SignHelp => (
                "署名すると、この版は変更できなくなります。後の訂正は新しい版として残ります。",
                "Signing freezes this version; later corrections become a new version.",
            ),
            Msg::SignOff => ("確認して署名する", "Sign off"),
            Msg::SignNeeds => (
                "署名の前に、次の項目を記入して保存してください:",
                "Before signing, fill in and save:",
            ),
            Msg::AmendHelp => (
                "署名済みの版はそのまま残し、訂正用の新しい版を作ります。",
                "Keeps the signed version as it is and starts a new version for corrections.",
            ),
            Msg::Amend => ("訂正版を作る", "Amend"),
            Msg::RecHistory => ("以前の版", "Earlier versions"),
            Msg::RecBadNumber => (
                "0以上の数値を入力してください",
                "enter a number of 0 or more",
            ),
            Msg::RecBadDate => (
                "日付をYYYY-MM-DDで入力してください",
                "enter a date as YYYY-MM-DD",
            ),
            Msg::RecBadRegNo => (
                "登録番号は数字だけで入力してください",
                "the registration number is digits only",
            ),
            Msg::RecFrozen => (
                "この版は署名済みか新しい版があるため変更できません",
                "this version is signed or superseded and cannot change",
            ),
            Msg::RecRequired => ("入力してください", "required"),
            Msg::LogDate => ("飛行年月日", "Date flown"),
            Msg::LogPilot => ("操縦者", "Pilot"),
            Msg::LogDrone => ("無人航空機の登録記号", "Drone registration number"),
            Msg::LogTakeoffAt => ("離陸時刻", "Takeoff time"),
            Msg::LogTakeoffPlace => ("離陸場所", "Takeoff place"),
            Msg::LogTakeoffPos => ("離陸地点（緯度, 経度）", "Takeoff point (lat, lon)"),
            Msg::LogLandingAt => ("着陸時刻", "Landing time"),
            Msg::LogLandingPlace => ("着陸場所", "Landing place"),
            Msg::LogLandingPos => ("着陸地点（緯度, 経度）", "Landing point (lat, lon)"),
            Msg::LogFlightTime => ("飛行時間（分:秒）", "Flight time (m:ss)"),
            Msg::LogPurpose => ("飛行目的", "Purpose"),
            Msg::LogFailsafes => ("フェールセーフ・通信途絶", "Failsafes and link loss"),
            Msg::LogAnomalies => (
                "機体からの警告（重要度「警告」以上）",
                "Warnings from the vehicle (severity Warning or worse)",
            ),
            Msg::LogNone => ("なし", "None"),
            Msg::Season => ("年度（暦年）", "Season (year)"),
            Msg::DateFrom => ("開始日", "From"),
            Msg::DateTo => ("終了日", "To"),
            Msg::Filter => ("絞り込む", "Filter"),
            Msg::RecCsv => ("農薬使用記録CSV", "Spray records CSV"),
            Msg::LogCsv => ("飛行日誌CSV", "Flight logbook CSV"),
            Msg::RecNone => ("記録はありません", "Nothing recorded"),
            Msg::RecState => ("状態", "State"),
            Msg::Catalogue => ("農薬の一覧", "Pesticide catalogue"),
            Msg::CatalogueAdd => ("農薬を追加", "Add a pesticide"),
            Msg::RecLinks => ("記録", "Records"),
            Msg::RecNavRecords => ("散布記録", "Spray records"),
            // --- flights (launch, vehicles, go/no-go) ---
            Msg::Vehicles => ("機体", "Vehicles"),
            Msg::AddVehicle => ("機体を登録", "Register a vehicle"),
            Msg::EditVehicle => ("機体を編集", "Edit the vehicle"),
            Msg::RegistrationNo => ("登録記号", "Registration number"),
            Msg::LinkAddress => (
                "接続先（例: udpout:192.168.1.10:14550）",
                "Link address (e.g. udpout:192.168.1.10:14550)",
            ),
            Msg::RegistrationExpiry => ("機体登録の有効期限", "Registration expiry"),
            Msg::PumpServo => ("ポンプのサーボ出力番号 (1–16)", "Pump servo output (1–16)"),
            Msg::NoVehicles => (
                "この農場には機体が登録されていません。",
                "This farm has no vehicle registered.",
            ),
            Msg::PilotCredentials => ("操縦者の資格", "Pilot credentials"),
            Msg::LicenceNo => ("技能証明の番号", "Remote pilot licence (技能証明) number"),
            Msg::LicenceExpiry => ("技能証明の有効期限", "Licence expiry"),
            Msg::PermitNo => ("許可・承認の番号", "MLIT permit and approval number"),
            Msg::PermitExpiry => ("許可・承認の有効期限", "Permit expiry"),
            Msg::LaunchFlight => ("飛行を開始する", "Launch a flight"),
            Msg::GoNoGo => ("飛行前チェックリスト", "Go/no-go checklist"),
            Msg::CheckItem => ("項目", "Check"),
            Msg::Outcome => ("判定", "Outcome"),
            Msg::Reason => ("理由", "Reason"),
            Msg::SortieWord => ("フライト（何回目）", "Sortie"),
            Msg::WindMps => ("風速 (m/s、高さ 1.5 m)", "Wind (m/s at 1.5 m)"),
            Msg::WindFromStation => (
                "気象観測所の値を使いました。",
                "The weather station's value was used.",
            ),
            Msg::ReadAt => ("観測時刻", "read at"),
            Msg::StartFrom => ("開始位置", "Where to start"),
            Msg::ResumeHint => (
                "このフライトの前回の飛行は途中で終わりました。再開すると、離陸後ポンプを止めたまま最後に到達した地点へ向かい、そこから残りを散布します。",
                "The last flight of this sortie ended early. Resuming takes off, flies to the last point reached with the pump off, and sprays the rest from there.",
            ),
            Msg::ResumeFromItem => (
                "中断した地点から再開する — 最後に到達した項目",
                "Resume where it stopped — last item reached:",
            ),
            Msg::StartFromBeginning => (
                "最初から全部飛行する",
                "Fly the whole sortie from the start",
            ),
            Msg::ResumedAfter => (
                "中断した飛行の再開（最後に到達していた項目）",
                "Resumed an interrupted flight (last item it had reached)",
            ),
            Msg::HeightAboveCrop => ("作物上の散布高度 (m)", "Spray height above the crop (m)"),
            Msg::NeighboursNotified => (
                "周辺住民への周知を済ませました",
                "The neighbours were notified",
            ),
            Msg::AirspaceApproval => (
                "DID・空港周辺の許可・承認番号（ある場合）",
                "DID / airport approval number (if any)",
            ),
            Msg::AcknowledgeWarnings => (
                "注意の項目を確認し、了承しました",
                "I have read and accept the cautions",
            ),
            Msg::CheckNow => ("チェックする", "Check"),
            Msg::UploadAndVerify => ("アップロードして検証", "Upload and verify"),
            Msg::LaunchBlocked => (
                "「不可」の項目があるため離陸できません。",
                "A no-go item blocks the launch.",
            ),
            Msg::WarningsNeedAck => (
                "「注意」の項目を了承してください。",
                "Acknowledge the cautions first.",
            ),
            Msg::VehicleBusy => (
                "この機体は別の飛行中です。",
                "This vehicle is already in another flight.",
            ),
            Msg::LiveFlight => ("飛行の状況", "Live flight"),
            Msg::PhaseWord => ("段階", "Phase"),
            Msg::PhaseConnecting => ("接続中", "Connecting"),
            Msg::PhaseUploading => ("アップロード・検証中", "Uploading and verifying"),
            Msg::PhaseVerified => ("検証済み・開始待ち", "Verified, waiting for the start"),
            Msg::PhaseStarting => ("開始中", "Starting"),
            Msg::PhaseFlying => ("飛行中", "Flying"),
            Msg::PhasePaused => ("一時停止中（散布停止）", "Paused (spray off)"),
            Msg::PhaseReturning => ("帰還中", "Returning"),
            Msg::PhaseEnded => ("終了", "Ended"),
            Msg::ModeWord => ("飛行モード", "Flight mode"),
            Msg::ArmedWord => ("アーム状態", "Armed"),
            Msg::Yes => ("はい", "yes"),
            Msg::No => ("いいえ", "no"),
            Msg::Progress => ("進捗（項目）", "Progress (item)"),
            Msg::ToGoM => ("残り距離 (m)", "Distance to go (m)"),
            Msg::SprayWord => ("散布", "Spray"),
            Msg::SprayOn => ("● 散布中", "● spraying"),
            Msg::SprayOff => ("○ 停止", "○ off"),
            Msg::AltitudeM => ("高度 (m)", "Height (m)"),
            Msg::BatteryNow => ("バッテリー", "Battery"),
            Msg::VehicleMessages => ("機体からのメッセージ", "Messages from the vehicle"),
            Msg::VerifiedItems => ("読み戻しで検証済み", "Verified by read-back"),
            Msg::MissionItems => ("ミッション項目", "Mission items"),
            Msg::FenceItems => ("ジオフェンス項目", "Fence items"),
            Msg::RallyPoints => ("ラリーポイント", "Rally points"),
            Msg::ConfirmClear => (
                "機体の周囲に人がいないことを確認しました",
                "The area around the vehicle is clear of people",
            ),
            Msg::ArmAndStart => ("アームして開始", "Arm and start"),
            Msg::PauseFlight => ("一時停止（散布停止）", "Pause (spray off)"),
            Msg::ResumeFlight => ("再開", "Resume"),
            Msg::RtlFlight => ("帰還 (RTL)", "Return to launch"),
            Msg::AbortFlight => ("中止（散布停止・帰還）", "Abort (spray off, return)"),
            Msg::ViewRecord => ("飛行記録を見る", "View the flight record"),
            Msg::FlightNotActive => (
                "この飛行は実行中ではありません。",
                "This flight is not active.",
            ),
            Msg::FlightHistory => ("飛行履歴", "Flight history"),
            Msg::StatusWord => ("状態", "Status"),
            Msg::StatusPlanned => ("検証済み", "Verified"),
            Msg::StatusUploading => ("アップロード中", "Uploading"),
            Msg::StatusFlying => ("飛行中", "Flying"),
            Msg::StatusPaused => ("一時停止", "Paused"),
            Msg::StatusCompleted => ("完了", "Completed"),
            Msg::StatusAborted => ("中止", "Aborted"),
            Msg::StatusFailed => ("失敗", "Failed"),
            Msg::RecordedGoNoGo => ("記録された飛行前チェック", "Recorded go/no-go"),
            Msg::PilotWord => ("操縦者", "Pilot"),
            Msg::ProblemWord => ("問題", "Problem"),
            Msg::WarningsAcknowledged => ("注意事項の了承", "Cautions acknowledged"),
            Msg::EnableFence => (
                "機体のジオフェンスが無効なら、離陸前に有効にする（FENCE_ENABLE など）",
                "If the vehicle's geofence is off, switch it on before take-off (FENCE_ENABLE etc.)",
            ),
            Msg::ConfirmNeeded => (
                "確認のチェックを入れてください。",
                "Tick the confirmation first.",
            ),
            Msg::MyPilotCredentials => ("自分の操縦者資格", "My pilot credentials"),
            Msg::OutcomePass => ("可", "Go"),
            Msg::OutcomeWarn => ("注意", "Caution"),
            Msg::OutcomeBlock => ("不可", "No-go"),
            Msg::CheckWind => ("風速", "Wind"),
            Msg::CheckHeight => ("作物上の散布高度", "Spray height above crop"),
            Msg::CheckApprovalZone => ("家屋・道路からの距離", "Distance to houses and roads"),
            Msg::CheckDid => ("人口集中地区 (DID)", "Densely inhabited district (DID)"),
            Msg::CheckAirport => ("空港等の周辺", "Airport surroundings"),
            Msg::CheckLicence => ("操縦者の技能証明", "Pilot licence"),
            Msg::CheckPermit => ("許可・承認", "MLIT permit and approval"),
            Msg::CheckRegistration => ("機体登録", "Vehicle registration"),
            Msg::CheckNeighbours => ("周辺住民への周知", "Neighbour notification"),
            Msg::CheckSeparateFields => ("離れた圃場", "Non-adjacent fields"),
            Msg::CheckOther => ("確認", "Check"),
            // --- parlor: bail ring, accounts ---
            Msg::BailRing => ("ストールの状態", "Bails of the rotary"),
            Msg::Bail => ("ストール", "Bail"),
            Msg::BailStateLabel => ("状態", "State"),
            Msg::CowNumber => ("牛番号", "Cow"),
            Msg::YieldSoFar => ("搾乳中の乳量 (kg)", "Yield so far (kg)"),
            Msg::Alarm => ("警報", "Alarm"),
            Msg::Entrance => ("入口", "Entrance"),
            Msg::OccupiedBails => ("使用中のストール", "Bails occupied"),
            Msg::BailTable => ("ストールの一覧（表）", "Bail list (table)"),
            Msg::NoBailsYet => (
                "ストールの情報はまだ届いていません。",
                "No bail states have arrived yet.",
            ),
            Msg::BailsReadAt => ("読み取り時刻", "Read at"),
            Msg::Account => ("アカウント", "Account"),
            Msg::Menu => ("メニュー", "Menu"),
            Msg::SiteNav => ("サイト内の移動", "Site navigation"),
            Msg::WindNow => ("今の風", "Wind now"),
            Msg::NoForecast => (
                "風の情報がありません（気象の取得先が未設定か、応答がありません）。離陸前に現地で風を測ってください。",
                "No wind reading (no weather station is set up, or it did not answer). Measure the wind on site before take-off.",
            ),
            Msg::WindGo => ("散布できる風です", "The wind allows spraying"),
            Msg::WindNoGo => ("風が強すぎて散布できません", "Too windy to spray"),
            Msg::WindLimit => ("上限", "limit"),
            Msg::NextSorties => (
                "次の散布（まだ飛んでいない計画）",
                "Next sorties (plans not yet flown)",
            ),
            Msg::LogbooksToSign => (
                "記入・署名が必要な飛行日誌",
                "Flight logbooks to complete and sign",
            ),
            Msg::RecordsToSign => ("署名していない農薬使用記録", "Spray records not yet signed"),
            Msg::DronesNow => ("飛行中の機体", "Drones in the air"),
            Msg::PreflightCheck => ("飛行前チェックへ", "Pre-flight check"),
            Msg::ParlorsNow => ("搾乳室の今", "Parlors now"),
            Msg::OpenAlerts => ("未解決のアラート", "Open alerts"),
            Msg::NoOpenAlerts => ("未解決のアラートはありません", "No open alerts"),
            Msg::NoReportYet => ("まだ報告がありません", "No report yet"),
            Msg::SinceYesterday => ("昨日からの変化", "Since yesterday"),
            Msg::NewFlights => ("飛行", "Flights"),
            Msg::NewRecords => ("農薬使用記録", "Spray records"),
            Msg::ParlorReports => ("搾乳室の報告", "Parlor reports"),
            Msg::MissingWord => ("届いていないもの", "Missing"),
            Msg::MissingParlorData => ("搾乳室から報告がありません", "No parlor has reported"),
            Msg::MissingAllData => ("何も届いていません", "Nothing has arrived"),
            Msg::TextSize => ("文字の大きさ", "Text size"),
            Msg::TextNormal => ("標準", "Normal"),
            Msg::TextLarge => ("大", "Large"),
            Msg::TextLarger => ("特大", "Larger"),
            Msg::ChangePassword => ("パスワードの変更", "Change password"),
            Msg::CurrentPassword => ("現在のパスワード", "Current password"),
            Msg::NewPassword => ("新しいパスワード", "New password"),
            Msg::NewPasswordAgain => ("新しいパスワード（確認）", "New password again"),
            Msg::PasswordHint => ("8文字以上で入力してください。", "At least 8 characters."),
            Msg::PasswordTooShort => (
                "パスワードは8文字以上にしてください。",
                "The password must be at least 8 characters.",
            ),
            Msg::PasswordsDiffer => (
                "新しいパスワードが一致しません。",
                "The new passwords do not match.",
            ),
            Msg::WrongCurrentPassword => (
                "現在のパスワードが正しくありません。",
                "The current password is not correct.",
            ),
            Msg::PasswordChanged => (
                "パスワードを変更しました。ほかの端末でのログインは終了しました。",
                "Password changed. Your sign-ins on other devices have ended.",
            ),
            Msg::Edit => ("編集", "Edit"),
            Msg::EditFarm => ("農場の編集", "Edit farm"),
            Msg::EditUser => ("ユーザーの編集", "Edit user"),
            Msg::Saved => ("保存しました。", "Saved."),
            Msg::ResetPassword => ("パスワードを再設定", "Reset password"),
            Msg::PasswordReset => (
                "パスワードを再設定しました。このユーザーのログインはすべて終了しました。",
                "Password reset. All of this user's sign-ins have ended.",
            ),
            Msg::Disable => ("利用を停止", "Disable"),
            Msg::Enable => ("利用を再開", "Enable"),
            Msg::AccountStatus => ("利用状況", "Status"),
            Msg::Disabled => ("停止中", "Disabled"),
            Msg::Active => ("利用中", "Active"),
            Msg::UserDisabled => (
                "利用を停止しました。このユーザーのログインは終了しました。",
                "User disabled; their sign-ins have ended.",
            ),
            Msg::UserEnabled => ("利用を再開しました。", "User enabled."),
            Msg::CannotDisableSelf => (
                "自分自身の利用は停止できません。",
                "You cannot disable your own account.",
            ),
            Msg::Revoke => ("失効させる", "Revoke"),
            Msg::Revoked => ("失効済み", "Revoked"),
            Msg::TokenRevoked => ("トークンを失効させました。", "Token revoked."),
            Msg::AuditLog => ("変更履歴", "Change log"),
            Msg::When => ("日時", "When"),
            Msg::Who => ("操作者", "Who"),
            Msg::Action => ("操作", "Action"),
            Msg::Target => ("対象", "Target"),
            Msg::CommandLine => ("コマンドライン", "command line"),
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
