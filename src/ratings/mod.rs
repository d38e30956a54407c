//! Satisfaction ratings (đánh giá mức độ hài lòng).

pub mod routes;
