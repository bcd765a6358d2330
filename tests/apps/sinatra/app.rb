require "sinatra/base"

class App < Sinatra::Base
  get "/" do
    "hello from sinatra #{Sinatra::VERSION} on ruby #{RUBY_VERSION} (#{ENV['RACK_ENV']})"
  end
end
