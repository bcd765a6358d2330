Rails.application.configure do
  config.cache_classes = true
  config.consider_all_requests_local = false
  config.log_level = :info
  if ENV["RAILS_LOG_TO_STDOUT"].present?
    config.logger = ActiveSupport::TaggedLogging.new(ActiveSupport::Logger.new($stdout))
  end
end
