//! The service-quality scorecard (0–100) in the structure of Decision
//! 766/QĐ-TTg: groups of sub-indicators, each with a weight and the value at
//! which it earns full points. The formula is configuration
//! (`config/scorecard.toml`); this module only applies it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::stats::Figures;

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
    /// A rate of the statistics: `online_rate`, `on_time_rate`, … (see `Figures::rate`).
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
                if probe.rate(&i.figure).is_none() {
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

pub fn score(config: &ScorecardConfig, figures: &Figures) -> Scorecard {
    let groups: Vec<GroupScore> = config
        .groups
        .iter()
        .map(|g| {
            let indicators: Vec<IndicatorScore> = g
                .indicators
                .iter()
                .map(|i| {
                    let f = figures.rate(&i.figure).expect("validated at start-up");
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

    fn shipped() -> ScorecardConfig {
        #[derive(Deserialize)]
        struct File {
            scorecard: ScorecardConfig,
        }
        let text = include_str!("../../config/scorecard.toml");
        toml::from_str::<File>(text).unwrap().scorecard
    }

    #[test]
    fn the_shipped_formula_is_valid_and_follows_decision_766() {
        let c = shipped();
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
        assert!((score(&shipped(), &Figures::from_counts(&perfect)).total - 100.0).abs() < 1e-9);
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
            let s = score(&shipped(), &Figures::from_counts(&counts));
            prop_assert!((0.0..=100.0 + 1e-9).contains(&s.total));
            for g in &s.groups {
                prop_assert!(g.points <= g.max_points + 1e-9);
            }
        }
    }
}
