//! The statistics of DESIGN.md §6 from counted facts: every figure with its
//! numerator and denominator. Counts add up across units, levels and months,
//! so one set of counts per unit rolls up to any grouping.

use std::ops::AddAssign;

use serde::Serialize;
use utoipa::ToSchema;

use super::assessment::MAX_POINTS;

/// What the database counts for one group and period `[from, to)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Counts {
    /// Received in the period (reception or counter/postal registration).
    pub received: i64,
    pub received_online: i64,
    pub received_counter: i64,
    pub received_postal: i64,
    /// Received in the period and digitized.
    pub digitized: i64,
    /// Received in the period with at least one reused component.
    pub reused: i64,
    /// Received in the period with a fee.
    pub fee_bearing: i64,
    /// … and that fee paid online.
    pub paid_online: i64,
    /// Results issued in the period (processing finished).
    pub finished: i64,
    /// … on or before the appointment date (before apologies; pauses count)
    /// and without a second supplement request.
    pub finished_on_time: i64,
    /// Working days from reception to result, summed over `finished`.
    pub processing_days: i64,
    /// Received before the period's end, without result or end by then.
    pub in_progress: i64,
    /// … whose appointment date is not past at the period's end.
    pub in_progress_on_time: i64,
    /// Results issued in the period for procedures whose result is a document.
    pub document_results: i64,
    /// … issued as signed e-results.
    pub e_results: i64,
    /// Late dossiers (finished late in the period, or overdue at its end).
    pub late: i64,
    /// … for which an apology was issued.
    pub late_apologized: i64,
    /// Ratings given in the period.
    pub ratings: i64,
    /// … with no criterion dissatisfied.
    pub ratings_satisfied: i64,
    /// Results issued in the period whose dossier was assessed (`domain::assessment`).
    pub assessed: i64,
    /// … their assessments' points, out of 18 each.
    pub assessment_points: i64,
    /// Results issued in the period for a procedure that certifies copies
    /// from originals: requests for a certified copy, decided.
    pub certified_copies_requested: i64,
    /// … issued online, as a signed electronic copy.
    pub certified_copies_done: i64,
    /// Received in the period and fully online: filed online, paid online
    /// (if fee-bearing) and returned online.
    pub fully_online: i64,
}

impl AddAssign for Counts {
    fn add_assign(&mut self, o: Self) {
        self.received += o.received;
        self.received_online += o.received_online;
        self.received_counter += o.received_counter;
        self.received_postal += o.received_postal;
        self.digitized += o.digitized;
        self.reused += o.reused;
        self.fee_bearing += o.fee_bearing;
        self.paid_online += o.paid_online;
        self.finished += o.finished;
        self.finished_on_time += o.finished_on_time;
        self.processing_days += o.processing_days;
        self.in_progress += o.in_progress;
        self.in_progress_on_time += o.in_progress_on_time;
        self.document_results += o.document_results;
        self.e_results += o.e_results;
        self.late += o.late;
        self.late_apologized += o.late_apologized;
        self.ratings += o.ratings;
        self.ratings_satisfied += o.ratings_satisfied;
        self.assessed += o.assessed;
        self.assessment_points += o.assessment_points;
        self.certified_copies_requested += o.certified_copies_requested;
        self.certified_copies_done += o.certified_copies_done;
        self.fully_online += o.fully_online;
    }
}

/// One figure: `value` is `numerator / denominator` (for rates, a fraction
/// between 0 and 1), absent when the denominator is 0.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Figure {
    pub numerator: i64,
    pub denominator: i64,
    pub value: Option<f64>,
}

impl Figure {
    pub fn ratio(numerator: i64, denominator: i64) -> Self {
        Self { numerator, denominator, value: (denominator > 0).then(|| numerator as f64 / denominator as f64) }
    }
}

/// The figures of DESIGN.md §6.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Figures {
    pub received: i64,
    pub received_online: i64,
    pub received_counter: i64,
    pub received_postal: i64,
    pub online_rate: Figure,
    pub on_time_rate: Figure,
    /// Average working days from reception to result.
    pub average_processing_days: Figure,
    pub digitization_rate: Figure,
    pub e_result_rate: Figure,
    pub reuse_rate: Figure,
    pub online_payment_rate: Figure,
    pub satisfaction_rate: Figure,
    /// The average 18-point assessment of the dossiers whose result was
    /// issued in the period: their points over their number.
    pub assessment_points: Figure,
    /// The same as a share of the 18 points: points over 18 × dossiers.
    pub assessment_rate: Figure,
    /// Late dossiers for which an apology was issued.
    pub apology_rate: Figure,
    /// Certified electronic copies made from originals, of those requested.
    pub certified_copy_rate: Figure,
    /// Fully online dossiers (filed, paid and returned online), of those received.
    pub fully_online_rate: Figure,
}

impl Figures {
    pub fn from_counts(c: &Counts) -> Self {
        let satisfaction_rate = Figure::ratio(c.ratings_satisfied, c.ratings);
        Self {
            received: c.received,
            received_online: c.received_online,
            received_counter: c.received_counter,
            received_postal: c.received_postal,
            online_rate: Figure::ratio(c.received_online, c.received),
            on_time_rate: Figure::ratio(c.finished_on_time + c.in_progress_on_time, c.finished + c.in_progress),
            average_processing_days: Figure::ratio(c.processing_days, c.finished),
            digitization_rate: Figure::ratio(c.digitized, c.received),
            e_result_rate: Figure::ratio(c.e_results, c.document_results),
            reuse_rate: Figure::ratio(c.reused, c.received),
            online_payment_rate: Figure::ratio(c.paid_online, c.fee_bearing),
            satisfaction_rate,
            assessment_points: Figure::ratio(c.assessment_points, c.assessed),
            assessment_rate: Figure::ratio(c.assessment_points, i64::from(MAX_POINTS) * c.assessed),
            apology_rate: Figure::ratio(c.late_apologized, c.late),
            certified_copy_rate: Figure::ratio(c.certified_copies_done, c.certified_copies_requested),
            fully_online_rate: Figure::ratio(c.fully_online, c.received),
        }
    }

    /// A rate by its name in the scorecard configuration.
    pub fn rate(&self, name: &str) -> Option<&Figure> {
        Some(match name {
            "online_rate" => &self.online_rate,
            "on_time_rate" => &self.on_time_rate,
            "digitization_rate" => &self.digitization_rate,
            "e_result_rate" => &self.e_result_rate,
            "reuse_rate" => &self.reuse_rate,
            "online_payment_rate" => &self.online_payment_rate,
            "satisfaction_rate" => &self.satisfaction_rate,
            "apology_rate" => &self.apology_rate,
            "assessment_rate" => &self.assessment_rate,
            "certified_copy_rate" => &self.certified_copy_rate,
            "fully_online_rate" => &self.fully_online_rate,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made period: 10 received (8 online, 1 counter, 1 postal), 9
    /// digitized, 7 reusing, 4 fee-bearing of which 2 paid online; 5
    /// finished, 4 on time, 17 working days in all; 3 in progress, 2 on
    /// time; 4 document results, 3 electronic; 2 late, 1 apologized; 6
    /// ratings, 5 satisfied; 4 assessed with 66 points.
    fn sample() -> Counts {
        Counts {
            received: 10,
            received_online: 8,
            received_counter: 1,
            received_postal: 1,
            digitized: 9,
            reused: 7,
            fee_bearing: 4,
            paid_online: 2,
            finished: 5,
            finished_on_time: 4,
            processing_days: 17,
            in_progress: 3,
            in_progress_on_time: 2,
            document_results: 4,
            e_results: 3,
            late: 2,
            late_apologized: 1,
            ratings: 6,
            ratings_satisfied: 5,
            assessed: 4,
            assessment_points: 66,
            certified_copies_requested: 3,
            certified_copies_done: 2,
            fully_online: 5,
        }
    }

    #[test]
    fn figures_match_hand_computation() {
        let f = Figures::from_counts(&sample());
        assert_eq!(f.online_rate, Figure { numerator: 8, denominator: 10, value: Some(0.8) });
        assert_eq!(f.on_time_rate, Figure { numerator: 6, denominator: 8, value: Some(0.75) });
        assert_eq!(f.average_processing_days.value, Some(3.4));
        assert_eq!(f.digitization_rate.value, Some(0.9));
        assert_eq!(f.e_result_rate, Figure { numerator: 3, denominator: 4, value: Some(0.75) });
        assert_eq!(f.reuse_rate.value, Some(0.7));
        assert_eq!(f.online_payment_rate.value, Some(0.5));
        assert_eq!(f.satisfaction_rate, Figure { numerator: 5, denominator: 6, value: Some(5.0 / 6.0) });
        assert_eq!(f.assessment_points, Figure { numerator: 66, denominator: 4, value: Some(16.5) });
        assert_eq!(f.assessment_rate, Figure { numerator: 66, denominator: 72, value: Some(66.0 / 72.0) });
        assert_eq!(f.apology_rate.value, Some(0.5));
    }

    #[test]
    fn empty_periods_have_no_ratios() {
        let f = Figures::from_counts(&Counts::default());
        assert_eq!(f.online_rate, Figure { numerator: 0, denominator: 0, value: None });
        assert_eq!(f.assessment_points.value, None);
    }

    #[test]
    fn counts_add_up() {
        let mut total = sample();
        total += sample();
        assert_eq!(total.received, 20);
        assert_eq!(Figures::from_counts(&total).on_time_rate.value, Some(0.75));
    }

    #[test]
    fn reproduces_quang_ninh_2024() {
        // Online payment 30,164 / 52,571 = 57.4%; the assessment 17.7 / 18
        // (98%): 1,000 dossiers, 700 scoring 18 and 300 scoring 17.
        let c = Counts {
            fee_bearing: 52_571,
            paid_online: 30_164,
            assessed: 1000,
            assessment_points: 700 * 18 + 300 * 17,
            ..Counts::default()
        };
        let f = Figures::from_counts(&c);
        assert_eq!((f.online_payment_rate.value.unwrap() * 1000.0).round() / 10.0, 57.4);
        assert_eq!((f.assessment_points.value.unwrap() * 10.0).round() / 10.0, 17.7);
        assert_eq!((f.assessment_rate.value.unwrap() * 100.0).round(), 98.0);
    }
}
