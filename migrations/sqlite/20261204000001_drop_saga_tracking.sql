-- The tracking service no longer learns every interaction of every journey: the fraud
-- events of the atribucion service (ConversionAtribuida, FraudeDetectado and
-- AtribucionRevertida since version 1.1) name the journey's interactions to discard.
DROP INDEX IF EXISTS saga_tracking_interacciones_journey;
DROP TABLE IF EXISTS saga_tracking_interacciones;
