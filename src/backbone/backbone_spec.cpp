#include "qme/backbone/backbone_spec.hpp"

#include "qme/config/backbone_config.hpp"

namespace qme::backbone {

const BackboneSpec& backbone_spec(const std::string& model) {
  config::check_model_name(model, "backbone", "model");  // the error a user of a backbone sees
  return models::model_spec(model);
}

}  // namespace qme::backbone
