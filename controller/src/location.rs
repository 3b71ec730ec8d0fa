//! A BackupLocation's phase from the validations its assigned clusters report.

use herbarium_api::garden::{LocationPhase, ValidationState};

/// Valid when every assigned cluster is; LimitedAvailability when some are (also while others
/// are still validating: the valid ones can already be used); ValidationFailed when all have
/// finished and none is valid, or no cluster is assigned; ValidationInProgress otherwise.
pub fn location_phase(states: &[ValidationState]) -> LocationPhase {
    let valid = states
        .iter()
        .filter(|s| **s == ValidationState::Valid)
        .count();
    let failed = states
        .iter()
        .filter(|s| **s == ValidationState::Failed)
        .count();
    let pending = states.len() - valid - failed;
    match (valid, pending) {
        _ if states.is_empty() => LocationPhase::ValidationFailed,
        (v, 0) if v == states.len() => LocationPhase::Valid,
        (0, 0) => LocationPhase::ValidationFailed,
        (0, _) => LocationPhase::ValidationInProgress,
        _ => LocationPhase::LimitedAvailability,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LocationPhase::*;
    use ValidationState::{Failed as F, InProgress as I, Pending as P, Valid as V};

    #[test]
    fn phase_from_cluster_validations() {
        let cases: [(&[ValidationState], LocationPhase); 9] = [
            (&[], ValidationFailed),
            (&[V], Valid),
            (&[V, V], Valid),
            (&[F], ValidationFailed),
            (&[F, F], ValidationFailed),
            (&[V, F], LimitedAvailability),
            (&[V, P], LimitedAvailability),
            (&[P, I], ValidationInProgress),
            (&[F, I], ValidationInProgress),
        ];
        for (states, want) in cases {
            assert_eq!(location_phase(states), want, "{states:?}");
        }
    }
}
