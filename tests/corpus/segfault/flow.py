from metaflow import FlowSpec, step


class NativeFlow(FlowSpec):
    @step
    def start(self):
        self.payload = b"sensor-42:temp=21.5;hum=40"
        self.next(self.decode)

    @step
    def decode(self):
        import ctypes

        buf = ctypes.create_string_buffer(self.payload)
        raw = ctypes.string_at(ctypes.addressof(buf), len(self.payload))
        self.fields = dict(part.split("=") for part in raw.decode().split(":")[1].split(";"))
        self.next(self.end)

    @step
    def end(self):
        print(self.fields)


if __name__ == "__main__":
    NativeFlow()
