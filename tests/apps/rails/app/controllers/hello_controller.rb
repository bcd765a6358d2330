class HelloController < ActionController::API
  def index
    render plain: "hello from rails #{Rails.version} in #{Rails.env} (secret #{Rails.application.secret_key_base.to_s.length} chars)"
  end
end
