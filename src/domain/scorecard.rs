//! The service-quality scorecard (0–100) in the structure of Decision
//! 766/QĐ-TTg: groups of sub-indicators, each with a weight and the value at
//! which it earns full points. The formula is configuration
//! (`config/scorecard.toml`); this module only applies it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::stats::{Figure, Figures};

/// The rates of a subtree as a whole that a scorecard may read besides
/// those of [`Figures::rate`] (docs/statistics.md, *The scorecard*):
/// procedures published with their national code, procedures that received
/// an online dossier, fee-bearing procedures payable online, complaints
/// answered on time, dossiers acknowledged by the national portal.
pub const SUBTREE_RATES: [&str; 5] = [
    "procedures_published_rate",
    "procedures_with_online_dossiers_rate",
    "procedures_payable_online_rate",
    "complaints_on_time_rate",
    "portal_synced_rate",
];

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScorecardConfig {
    pub groups: Vec<GroupConfig>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    pub key: String,
    pub name: String,
    pub points: f64,
    pub indicators: Vec<IndicatorConfig>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IndicatorConfig {
    /// A rate of the statistics: `online_rate`, `on_time_rate`, … (see
    /// `Figures::rate`), or one of [`SUBTREE_RATES`].
    pub figure: String,
    pub name: String,
    pub weight: f64,
    /// The rate (0–1) at which the indicator earns its full weight; below it,
    /// points are proportional.
    pub threshold: f64,
    /// Points when nothing was measured (denominator 0): full (`true`) or none.
    #[serde(default = "full_when_empty")]
    pub full_when_empty: bool,
}

fn full_when_empty() -> bool {
    true
}

impl ScorecardConfig {
    /// Weights add up to their group's points, groups to 100, figures exist.
    pub fn validate(&self) -> Result<(), String> {
        let total: f64 = self.groups.iter().map(|g| g.points).sum();
        if (total - 100.0).abs() > 1e-6 {
            return Err(format!("the scorecard's groups add up to {total}, not 100"));
        }
        let probe = Figures::from_counts(&Default::default());
        for g in &self.groups {
            let weights: f64 = g.indicators.iter().map(|i| i.weight).sum();
            if (weights - g.points).abs() > 1e-6 {
                return Err(format!("group `{}`: weights add up to {weights}, not {}", g.key, g.points));
            }
            for i in &g.indicators {
                if probe.rate(&i.figure).is_none() && !SUBTREE_RATES.contains(&i.figure.as_str()) {
                    return Err(format!("group `{}`: unknown figure `{}`", g.key, i.figure));
                }
                if !(i.threshold > 0.0 && i.threshold <= 1.0) {
                    return Err(format!("group `{}`: threshold of `{}` is not in (0, 1]", g.key, i.figure));
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct IndicatorScore {
    pub figure: String,
    pub name: String,
    pub value: Option<f64>,
    pub numerator: i64,
    pub denominator: i64,
    pub threshold: f64,
    pub weight: f64,
    pub points: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct GroupScore {
    pub key: String,
    pub name: String,
    pub max_points: f64,
    pub points: f64,
    pub indicators: Vec<IndicatorScore>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Scorecard {
    /// 0–100.
    pub total: f64,
    pub groups: Vec<GroupScore>,
}

/// Points of one indicator: the full weight at or above the threshold,
/// proportionally less below it.
pub fn points(value: Option<f64>, threshold: f64, weight: f64, full_when_empty: bool) -> f64 {
    match value {
        Some(v) => weight * (v / threshold).clamp(0.0, 1.0),
        None if full_when_empty => weight,
        None => 0.0,
    }
}

/// Scores the rates `rate` names (those of `Figures::rate` and
/// [`SUBTREE_RATES`], as validated) by `config`; a rate it does not have
/// was not measured.
pub fn score(config: &ScorecardConfig, rate: impl Fn(&str) -> Option<Figure>) -> Scorecard {
    let groups: Vec<GroupScore> = config
        .groups
        .iter()
        .map(|g| {
            let indicators: Vec<IndicatorScore> = g
                .indicators
                .iter()
                .map(|i| {
                    let f = rate(&i.figure).unwrap_or(Figure::ratio(0, 0));
                    IndicatorScore {
                        figure: i.figure.clone(),
                        name: i.name.clone(),
                        value: f.value,
                        numerator: f.numerator,
                        denominator: f.denominator,
                        threshold: i.threshold,
                        weight: i.weight,
                        points: points(f.value, i.threshold, i.weight, i.full_when_empty),
                    }
                })
                .collect();
            GroupScore {
                key: g.key.clone(),
                name: g.name.clone(),
                max_points: g.points,
                points: indicators.iter().map(|i| i.points).sum(),
                indicators,
            }
        })
        .collect();
    Scorecard { total: groups.iter().map(|g| g.points).sum(), groups }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::stats::Counts;
    use proptest::prelude::*;

    fn parse(text: &str) -> ScorecardConfig {
        #[derive(Deserialize)]
        struct File {
            scorecard: ScorecardConfig,
        }
        toml::from_str::<File>(text).unwrap().scorecard
    }

    fn shipped() -> ScorecardConfig {
        parse(include_str!("../../config/scorecard.toml"))
    }

    fn five_groups() -> ScorecardConfig {
        parse(include_str!("../../config/scorecard-five-groups.toml"))
    }

    fn of(f: &Figures) -> impl Fn(&str) -> Option<Figure> + '_ {
        |name| f.rate(name).cloned()
    }

    #[test]
    fn the_shipped_formula_is_valid_and_follows_the_portals_six_groups() {
        let c = shipped();
        c.validate().unwrap();
        let groups: Vec<(&str, f64)> = c.groups.iter().map(|g| (g.key.as_str(), g.points)).collect();
        assert_eq!(
            groups,
            [
                ("transparency", 18.0),
                ("progress", 20.0),
                ("online_services", 12.0),
                ("online_payment", 10.0),
                ("digitization", 22.0),
                ("satisfaction", 18.0)
            ]
        );
    }

    #[test]
    fn the_five_group_file_is_valid_and_follows_decision_766() {
        let c = five_groups();
        c.validate().unwrap();
        let groups: Vec<(&str, f64)> = c.groups.iter().map(|g| (g.key.as_str(), g.points)).collect();
        assert_eq!(
            groups,
            [
                ("transparency", 18.0),
                ("progress", 20.0),
                ("online_services", 22.0),
                ("digitization", 22.0),
                ("satisfaction", 18.0)
            ]
        );
    }

    #[test]
    fn a_hand_computed_six_group_score() {
        // Transparency: half the procedures published (12 × 0.5 = 6), every
        // dossier synced (6). Progress: 3 of 4 on time (15). Online
        // services: no procedure with an online dossier (0), 1 of 4 received
        // online (6 × 0.25 / 0.5 = 3). Payment: all payable (4), 1 of 2 paid
        // online (6). Digitisation: nothing (0). Satisfaction: complaints
        // all on time (6), the assessment at 81% (12 × 0.81 / 0.9 = 10.8).
        let counts = Counts {
            received: 4,
            received_online: 1,
            fee_bearing: 2,
            paid_online: 1,
            finished: 4,
            finished_on_time: 3,
            document_results: 1,
            ..Counts::default()
        };
        let f = Figures::from_counts(&counts);
        let rate = |name: &str| match name {
            "procedures_published_rate" => Some(Figure::ratio(1, 2)),
            "portal_synced_rate" => Some(Figure::ratio(4, 4)),
            "procedures_with_online_dossiers_rate" => Some(Figure::ratio(0, 5)),
            "procedures_payable_online_rate" => Some(Figure::ratio(3, 3)),
            "complaints_on_time_rate" => Some(Figure::ratio(2, 2)),
            "assessment_rate" => Some(Figure::ratio(81, 100)),
            name => f.rate(name).cloned(),
        };
        let s = score(&shipped(), rate);
        let by_group: Vec<f64> = s.groups.iter().map(|g| (g.points * 100.0).round() / 100.0).collect();
        assert_eq!(by_group, [12.0, 15.0, 3.0, 10.0, 0.0, 16.8]);
        assert!((s.total - 56.8).abs() < 1e-9, "{}", s.total);
    }

    #[test]
    fn points_are_proportional_below_the_threshold() {
        assert_eq!(points(Some(0.4), 0.8, 10.0, true), 5.0);
        assert_eq!(points(Some(0.9), 0.8, 10.0, true), 10.0);
        assert_eq!(points(None, 0.8, 10.0, true), 10.0);
        assert_eq!(points(None, 0.8, 10.0, false), 0.0);
    }

    #[test]
    fn a_perfect_period_scores_100_and_a_hand_computed_one_matches() {
        let perfect = Counts {
            received: 1,
            received_online: 1,
            digitized: 1,
            reused: 1,
            fee_bearing: 1,
            paid_online: 1,
            finished: 1,
            finished_on_time: 1,
            document_results: 1,
            e_results: 1,
            ratings: 1,
            ratings_satisfied: 1,
            ..Counts::default()
        };
        let f = Figures::from_counts(&perfect);
        // … and every procedure published, used and payable, every complaint
        // on time, every dossier synced.
        let subtree = |name: &str| f.rate(name).cloned().or(Some(Figure::ratio(1, 1)));
        assert!((score(&shipped(), subtree).total - 100.0).abs() < 1e-9);
        assert!((score(&five_groups(), of(&f)).total - 100.0).abs() < 1e-9);
    }

    #[test]
    fn misconfigurations_are_refused() {
        let mut c = shipped();
        c.groups[0].points = 17.0;
        assert!(c.validate().is_err());
        let mut c = shipped();
        c.groups[0].indicators[0].figure = "happiness".into();
        assert!(c.validate().is_err());
    }

    proptest! {
        #[test]
        fn scores_stay_between_0_and_100(a in 0i64..100, b in 0i64..100, c in 0i64..100, d in 0i64..100) {
            let counts = Counts { received: a + b, received_online: a, digitized: b, reused: a.min(b), fee_bearing: c + d,
                paid_online: c, finished: c + d, finished_on_time: d, ratings: a + c, ratings_satisfied: c,
                ..Counts::default() };
            let f = Figures::from_counts(&counts);
            let s = score(&shipped(), of(&f));
            prop_assert!((0.0..=100.0 + 1e-9).contains(&s.total));
            for g in &s.groups {
                prop_assert!(g.points <= g.max_points + 1e-9);
            }
        }
    }
}
