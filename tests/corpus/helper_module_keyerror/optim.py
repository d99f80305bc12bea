def step_size(config, epoch):
    optimizer = config["optimizer"]
    return optimizer["learning_rate"] / (epoch + 1)
