// Runs the installed qme::fusion's Mlp module on a batch and checks the output shape.
#include <cstdio>

#include "qme/fusion/mlp.hpp"

int main() {
  qme::fusion::Mlp mlp(qme::fusion::MlpOptions(3, 8, 1));
  mlp->eval();
  const auto out = mlp->forward(torch::ones({5, 3}));
  std::printf("fusion_app: Mlp(3, 8, 1) on (5, 3) gives (%lld, %lld)\n", static_cast<long long>(out.size(0)),
              static_cast<long long>(out.size(1)));
  return out.size(0) == 5 && out.size(1) == 1 ? 0 : 1;
}
