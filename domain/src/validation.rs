//! Input checks that several aggregates share, each written once.

use crate::rules::fraud::PUNTUACION_MAXIMA;

/// Whether a required text says nothing: empty or only whitespace.
pub(crate) fn is_blank(text: &str) -> bool {
    text.trim().is_empty()
}

/// Which attribution setting is out of range (see [`check_attribution_settings`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttributionSettingsError {
    /// The lookback window is shorter than a day.
    Window { ventana_dias: u32 },
    /// The fraud threshold is outside 1..=[`PUNTUACION_MAXIMA`]: scores are capped at 100,
    /// and 0 would make every conversion fraud.
    FraudThreshold { umbral_fraude: u32 },
}

/// Checks a campaign's attribution settings: the lookback window is at least a day and the
/// fraud threshold within 1..=[`PUNTUACION_MAXIMA`]. The window is checked first.
pub(crate) fn check_attribution_settings(
    ventana_dias: u32,
    umbral_fraude: u32,
) -> Result<(), AttributionSettingsError> {
    if ventana_dias < 1 {
        return Err(AttributionSettingsError::Window { ventana_dias });
    }
    if !(1..=PUNTUACION_MAXIMA).contains(&umbral_fraude) {
        return Err(AttributionSettingsError::FraudThreshold { umbral_fraude });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_only_is_blank() {
        for blank in ["", " ", "\t\n", "\u{3000}"] {
            assert!(is_blank(blank), "{blank:?}");
        }
        assert!(!is_blank(" x "));
    }

    #[test]
    fn the_window_is_at_least_a_day_and_the_threshold_within_1_and_100() {
        use AttributionSettingsError::*;
        assert_eq!(check_attribution_settings(1, 1), Ok(()));
        assert_eq!(check_attribution_settings(365, 100), Ok(()));
        assert_eq!(
            check_attribution_settings(0, 50),
            Err(Window { ventana_dias: 0 })
        );
        assert_eq!(
            check_attribution_settings(30, 0),
            Err(FraudThreshold { umbral_fraude: 0 })
        );
        assert_eq!(
            check_attribution_settings(30, 101),
            Err(FraudThreshold { umbral_fraude: 101 })
        );
        assert_eq!(
            check_attribution_settings(0, 0),
            Err(Window { ventana_dias: 0 })
        );
    }
}
