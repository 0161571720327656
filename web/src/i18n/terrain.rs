//! The words of terrain: the farm's elevation data page, the plan form's height choice, the
//! plan page's terrain figures, and refusals (a model the loaders refuse, ground missing
//! under the path, the legal height, terrain following off on the vehicle).

use super::messages;

messages! {
    /// One sentence or label of terrain.
    pub enum TerrainMsg {
        /// Page title and menu link.
        Title => ("標高データ", "Elevation data"),
        /// What the page is for.
        Intro => (
            "斜面や棚田で散布の高さを地面から一定に保つための標高データです。国土地理院の基盤地図情報 数値標高モデル（5m・10m メッシュの GML、ダウンロードした zip のまま）、標高タイル（PNG を z/x/y のフォルダごと zip にしたもの）、GeoTIFF を登録できます。一度登録すれば、この農場の計画と飛行で使われます。",
            "Elevation data keeps spraying at one height above the ground on slopes and terraced paddies. Register GSI's digital elevation model (5 m and 10 m mesh GML, the downloaded zip as it is), GSI elevation tiles (PNG, zipped with their z/x/y folders) or a GeoTIFF. Once registered, this farm's plans and flights use it.",
        ),
        /// Upload: the files.
        Files => ("標高データのファイル（複数可）", "Elevation files (several allowed)"),
        /// Upload: the name.
        Name => ("名前", "Name"),
        /// Upload: the button.
        Upload => ("登録する", "Register"),
        /// Upload: what was stored.
        Stored => ("標高データを登録しました。", "The elevation data is registered."),
        /// Table: none yet.
        NoneYet => ("まだ標高データはありません。", "No elevation data yet."),
        /// Column: the files.
        FilesColumn => ("ファイル", "Files"),
        /// Column: the cell size.
        Cell => ("格子の大きさ", "Cell size"),
        /// Column: the extent.
        Extent => ("範囲（緯度・経度）", "Extent (latitude, longitude)"),
        /// Column: the ground heights.
        Ground => ("標高（最低〜最高）", "Ground height (lowest to highest)"),
        /// Column: when.
        Uploaded => ("登録日時", "Registered"),
        /// Button: delete.
        Delete => ("削除", "Delete"),
        /// Deleted.
        Deleted => ("標高データを削除しました。", "The elevation data is deleted."),
        /// Refusal: nothing chosen.
        NoFiles => ("ファイルが選ばれていません。", "No file was chosen."),
        /// Refusal: a file the loaders refuse (the reason follows, as the planner wrote it).
        Unreadable => ("標高データを読めません:", "Cannot read the elevation data:"),
        /// Refusal: past the limits.
        TooLarge => ("標高データが大きすぎます:", "The elevation data is too large:"),
        /// Unit of the limit: cells.
        Cells => ("格子点", "cells"),
        /// Unit of the limit: grids.
        Grids => ("タイル", "tiles"),
        /// Plan form: the height choice.
        AltFrame => ("散布の高さの基準", "Spray height over"),
        /// Plan form: flat.
        FrameFlat => ("平らな圃場として（標高データを使わない）", "Flat ground (no elevation data)"),
        /// Plan form: following terrain, altitudes relative to home.
        FrameRelative => ("地形に沿う（高度は離陸地点から）", "Follow the terrain (altitudes from home)"),
        /// Plan form: following terrain, AMSL.
        FrameAmsl => ("地形に沿う（高度は海抜）", "Follow the terrain (altitudes above sea level)"),
        /// Plan form: the autopilot's terrain frame.
        FrameTerrain => (
            "地形に沿う（機体の地形追従。ArduPilot の TERRAIN_ENABLE が必要）",
            "Follow the terrain (the vehicle's terrain frame; ArduPilot needs TERRAIN_ENABLE)",
        ),
        /// Plan form: hint.
        FrameHint => (
            "地形に沿う計画には、この圃場を覆う標高データが必要です。",
            "Following the terrain needs elevation data covering this field.",
        ),
        /// Refusal: no model covers the field.
        NoModel => (
            "この圃場を覆う標高データがありません。「標高データ」のページで登録してください。",
            "No elevation data covers this field. Register it on the Elevation data page.",
        ),
        /// Refusal: ground missing under part of the path.
        MissingUnderPath => (
            "標高データが飛行経路の一部を覆っていないため計画できません。地点:",
            "The elevation data does not cover part of the flight path, so it cannot be planned. Where:",
        ),
        /// Refusal: above the legal height.
        AboveLegal => (
            "地面からの高さが航空法の上限（150 m）を超える地点があるため計画できません（航空法第132条の85、許可が必要）。対地高度:",
            "Part of the path would be higher above the ground than the legal limit (150 m, Civil Aeronautics Act art. 132-85: needs permission). Height above ground:",
        ),
        /// Plan page: the section.
        Section => ("地形", "Terrain"),
        /// Plan page: the frame.
        FrameUsed => ("高度の基準", "Altitudes"),
        /// Plan page: ground under the path.
        GroundUnderPath => ("経路の下の標高（最低〜最高）", "Ground under the path (lowest to highest)"),
        /// Plan page: ground at home.
        HomeGround => ("離陸地点の標高", "Ground at home"),
        /// Plan page: height above ground, lowest and highest.
        AglRange => ("対地高度（散布区間の最低〜全体の最高）", "Height above ground (lowest on spray legs to highest)"),
        /// Plan page: points inserted.
        Inserted => ("地形に合わせて加えた点", "Points added for the terrain"),
        /// Plan page: steepest slope.
        Steepest => ("最も急な斜面", "Steepest ground"),
        /// Plan page: length of spray legs flown higher.
        RaisedSpray => ("散布の高さより高く飛ぶ散布区間", "Spray legs flown above spray height"),
        /// Plan page: why they are raised.
        RaisedWarning => (
            "地面の傾きが機体の上昇・下降できる角度より急な所があり、そこでは散布の高さより高く飛びます。薬剤が流れやすくなるので、速度を下げるか風の弱い日に散布してください。",
            "Somewhere the ground is steeper than the vehicle climbs or descends at spray speed, so it flies higher than spray height there. Spray drifts further: fly slower or on a calm day.",
        ),
        /// Launch: terrain following off on the vehicle.
        VehicleTerrainOff => (
            "この計画は機体の地形追従を使いますが、機体の地形追従が無効です（TERRAIN_ENABLE が 0）。有効にするか、高度の基準を変えて計画し直してください。",
            "This plan uses the vehicle's terrain following, but it is off on the vehicle (TERRAIN_ENABLE 0). Switch it on, or plan again with other altitudes.",
        ),
        /// Launch: a terrain-frame plan whose elevation data the farm no longer holds.
        NotServed => (
            "この計画は機体の地形追従を使いますが、計画に使った標高データがこの農場にもうありません。標高データを登録し直してください。",
            "This plan uses the vehicle's terrain following, but this farm no longer holds the elevation data it was planned on. Register the elevation data again.",
        ),
        /// Launch: a PX4 actuator plan on a vehicle with no pump output.
        NoPumpOutput => (
            "この計画はポンプを PX4 のアクチュエーター値（DO_SET_ACTUATOR）で動かしますが、機体のどの出力にも「Peripheral via Actuator Set 1」（PWM_MAIN_FUNCn = 301）が割り当てられていないため、ポンプが動きません。ポンプをつないだ出力に割り当ててから飛ばしてください。",
            "This plan runs the pump by PX4's actuator value (DO_SET_ACTUATOR), but no output of the vehicle has the function \"Peripheral via Actuator Set 1\" (PWM_MAIN_FUNCn = 301), so the pump would not run. Assign it to the pump's output, then fly.",
        ),
        /// Live page: the terrain sent to the vehicle.
        Served => ("機体へ送った地形", "Terrain sent to the vehicle"),
        /// Live page: the vehicle's terrain grid.
        Grid => ("格子", "grid"),
        /// Live page: terrain requests answered.
        Requests => ("要求", "requests"),
        /// Live page: terrain blocks sent.
        BlocksSent => ("送信ブロック", "blocks sent"),
        /// Live page: blocks asked for outside the data.
        BlocksMissing => ("データ外", "outside the data"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn every_message_has_both_languages() {
        for m in TerrainMsg::ALL {
            let (ja, en) = (m.text(Lang::Ja), m.text(Lang::En));
            assert!(!ja.is_empty() && !en.is_empty(), "{m:?}");
            assert_ne!(ja, en, "{m:?}");
        }
    }
}
