from tests.training import fakes

fakes.install()
