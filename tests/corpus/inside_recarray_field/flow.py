from metaflow import FlowSpec, step


class SensorFlow(FlowSpec):
    @step
    def start(self):
        import numpy as np

        self.readings = np.rec.fromarrays(
            [np.arange(50), np.linspace(15.0, 25.0, 50), np.linspace(0.3, 0.6, 50)],
            names="sensor_id,temperature,humidity",
        )
        self.next(self.stats)

    @step
    def stats(self):
        readings = self.readings
        self.mean_temp = float(readings.temperature.mean())
        self.max_humidity = float(readings.humidity.max())
        self.next(self.end)

    @step
    def end(self):
        print(self.mean_temp, self.max_humidity)


if __name__ == "__main__":
    SensorFlow()
