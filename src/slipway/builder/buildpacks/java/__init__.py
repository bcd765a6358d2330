"""The built-in heroku/java buildpack: Maven (pom.xml) and Gradle (build.gradle) apps."""
