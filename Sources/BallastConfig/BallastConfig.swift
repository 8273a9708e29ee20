// BallastConfig
